"""Edges of the client's contract found by a hostile review: settings the checks let through
that later escaped as builtin exceptions, and calls racing close()."""

from __future__ import annotations

import pytest

import ica_tapis_async as ita

from .fakes import FakeTransport

BASE = "https://h/ica/rest"


async def test_more_than_a_thousand_attempts_keep_backing_off() -> None:
    """``initial_backoff * 2 ** attempt`` overflowed a float at attempt 1025: OverflowError
    escaped a call whose policy allowed more attempts (a long ``total_timeout`` with a small
    ``max_backoff``)."""
    http = FakeTransport()
    http.get(f"{BASE}/api/projects/p/dataTransfers/t", status=503, payload={}, repeat=True)
    retry = ita.RetryPolicy(
        max_attempts=1100, total_timeout=None, initial_backoff=0.001, max_backoff=0.001
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with ita.IcaClient(BASE, api_key="k", transport=http, retry=retry, sleep=sleep) as ica:
        with pytest.raises(ita.ServerError):
            await ica.data_transfers.get("p", "t")
    assert len(http.sent) == 1100
    assert max(waits) <= 0.001
