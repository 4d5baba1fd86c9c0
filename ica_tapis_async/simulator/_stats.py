"""SimulatorStats: the audit counters that let tests prove exactly-once behaviour."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ("SimulatorStats",)


def bump(counter: dict[str, int], key: str, n: int = 1) -> None:
    """Add ``n`` to ``counter[key]``."""
    counter[key] = counter.get(key, 0) + n


@attrs.define
class SimulatorStats:
    """Live counters of one simulator; ``sim.stats`` and ``GET /_simulator/stats`` show them.

    Attributes:
        requests: every API request received (faulted and throttled ones included).
        requests_by_operation: the same, per operation id (e.g. ``createAnalysisCreationBatch``).
        responses_by_status: answers sent, per HTTP status (as a string key); dropped
            connections are not answers.
        throttled: 429 answers.
        faults: injected faults per kind: ``500``, ``503``, ``drop_before``,
            ``drop_after_post``, ``slow``.
        batches: batches created per kind: ``linking``, ``update``, ``analysis``.
        items: batch items created per kind.
        analyses_by_user_reference: analyses created, per userReference (exactly-once proofs).
        link_submissions: how many times each data id was submitted in a linking batch.
        idempotent_replays: stored responses replayed for a repeated Idempotency-Key.
        idempotency_in_progress: 409 answers for a key whose first request was still running.
        idempotency_mismatches: 422 answers for a key reused with another body.
        tokens_issued: JWTs issued by ``POST /api/tokens`` and ``tokens:refresh``.
        transfers_aborted: ICA data transfers aborted.
        tapis_tasks: Tapis transfer tasks created.
        tapis_cancels: Tapis cancel requests that succeeded.
        counts_skewed: cursor pages whose remainingRecords was off or absent (``count_error``).
        batches_stopped: batches whose job will end STOPPED (``stop_rate``).
        tapis_child_retries: Tapis children planned to fail a try and then succeed.
        tapis_child_failures: Tapis children planned to fail every try.
    """

    requests: int = 0
    requests_by_operation: dict[str, int] = attrs.Factory(dict)
    responses_by_status: dict[str, int] = attrs.Factory(dict)
    throttled: int = 0
    faults: dict[str, int] = attrs.Factory(dict)
    batches: dict[str, int] = attrs.Factory(dict)
    items: dict[str, int] = attrs.Factory(dict)
    analyses_by_user_reference: dict[str, int] = attrs.Factory(dict)
    link_submissions: dict[str, int] = attrs.Factory(dict)
    idempotent_replays: int = 0
    idempotency_in_progress: int = 0
    idempotency_mismatches: int = 0
    tokens_issued: int = 0
    transfers_aborted: int = 0
    tapis_tasks: int = 0
    tapis_cancels: int = 0
    counts_skewed: int = 0
    batches_stopped: int = 0
    tapis_child_retries: int = 0
    tapis_child_failures: int = 0

    @property
    def analyses_created(self) -> int:
        """Total analyses created."""
        return sum(self.analyses_by_user_reference.values())

    def reset(self) -> None:
        """Zero every counter in place (references held by callers stay valid)."""
        fresh = SimulatorStats()
        for field in attrs.fields(SimulatorStats):
            setattr(self, field.name, getattr(fresh, field.name))

    def to_dict(self) -> dict[str, Any]:
        """The counters as JSON-friendly data (with the ``analyses_created`` total)."""
        out = attrs.asdict(self)
        out["analyses_created"] = self.analyses_created
        return out
