"""The one policy for exception groups: when a group stands for a single failure, use that."""

from __future__ import annotations

import asyncio

__all__ = ("leaves", "representative", "single_failure")


def leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions inside ``group`` and its nested groups, depth first."""
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out


def _is_cancellation(exc: BaseException) -> bool:
    # asyncio's CancelledError, or trio's Cancelled (named so that trio need not be imported).
    return isinstance(exc, asyncio.CancelledError) or type(exc).__name__ == "Cancelled"


def single_failure(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one failure ``group`` stands for, or ``None`` when it holds different ones.

    Task groups wrap whatever their tasks raise, even a single error, and a failure that hits
    every task at once (a 401, a dropped server) arrives once per task. Callers want to write
    ``except AuthenticationError``, not ``except*``, so:

    - nested groups are flattened;
    - cancellations are dropped when anything else is there (they are the other tasks being
      stopped because of the failure, not a failure of their own);
    - when every remaining exception is the same failure (same type, same message), the first
      one is the answer;
    - otherwise there is no single failure, and the caller keeps the group: different
      failures (even two ``ValueError`` with different messages) are never hidden.

    Used by :func:`fan_out`, the batch orchestrator and the command line alike.
    """
    found = leaves(group)
    real = [exc for exc in found if not _is_cancellation(exc)] or found
    if not real:
        return None
    first = real[0]
    text = str(first)
    if all(type(exc) is type(first) and str(exc) == text for exc in real[1:]):
        return first
    return None


def representative(exc: BaseException) -> BaseException:
    """The exception to report in one line for ``exc``: itself, the group's single failure, or
    (for a group of different failures) its first one that is not a cancellation."""
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    single = single_failure(exc)
    if single is not None:
        return single
    found = leaves(exc)
    return next((e for e in found if not _is_cancellation(e)), found[0] if found else exc)
