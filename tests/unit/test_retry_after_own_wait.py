"""The caller that receives a Retry-After is held to its own deadline too, and every HTTP-date form
counts.

Adversarial review of issue 20, point 4: "a caller whose deadline (``total_timeout``, or a
per-call ``timeout=``) ends inside a pause fails at once". The caller whose 429 started the pause
slept through all of it with ``timeout=5``, while every other caller with ``timeout=5`` was refused
at once. And RFC 9110 makes a recipient accept all three HTTP-date forms; the asctime one (always
GMT, no zone written) was read as no ``Retry-After`` at all.
"""

from __future__ import annotations

import email.utils

import pytest

import ica_tapis_async as ita
from ica_tapis_async._core._retry import parse_retry_after

from ..resources.helpers import BATCH, ICA, PROJECT, batch, problem
from .fakes import FakeClock, FakeTransport

URL = f"{ICA}/api/projects/{PROJECT}/dataLinkingBatch/{BATCH}"
NOW = 784111777.0  # Sun, 06 Nov 1994 08:49:37 GMT


@pytest.mark.parametrize("status", [429, 503])
async def test_the_caller_told_to_wait_past_its_per_call_timeout_fails_at_once(
    status: int,
) -> None:
    """timeout=5 and a Retry-After of 60: the error now, not a 60 s sleep and a retry."""
    clock = FakeClock()
    http = FakeTransport(clock)
    http.get(URL, status=status, payload=problem(status), headers={"Retry-After": "60"})
    http.get(URL, status=200, payload=batch())
    policy = ita.RetryPolicy(total_timeout=None)
    async with ita.IcaClient(
        ICA, api_key="k", transport=http, clock=clock, sleep=clock.sleep, retry=policy
    ) as ica:
        start = clock.now
        with pytest.raises(ita.APIStatusError) as caught:
            await ica.data_linking_batches.get(PROJECT, BATCH, timeout=5)
        assert caught.value.status == status
        assert clock.now - start < 5
        assert len(http.sent) == 1
        # The pause stays in force for the others; a caller with time enough waits it out.
        got = await ica.data_linking_batches.get(PROJECT, BATCH, timeout=90)
    assert got.id == BATCH
    if status == 429:
        assert isinstance(caught.value, ita.RateLimitError)
        assert caught.value.retry_after == pytest.approx(60.0)


async def test_the_caller_told_to_wait_within_its_per_call_timeout_retries() -> None:
    """timeout=90 and a Retry-After of 60: waited out, then retried (unchanged)."""
    clock = FakeClock()
    http = FakeTransport(clock)
    http.get(URL, status=429, payload=problem(429), headers={"Retry-After": "60"})
    http.get(URL, status=200, payload=batch())
    async with ita.IcaClient(
        ICA, api_key="k", transport=http, clock=clock, sleep=clock.sleep
    ) as ica:
        got = await ica.data_linking_batches.get(PROJECT, BATCH, timeout=90)
    assert got.id == BATCH
    assert len(http.sent) == 2


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:50:07 GMT",  # IMF-fixdate
        "Sunday, 06-Nov-94 08:50:07 GMT",  # obsolete RFC 850
        "Sun Nov  6 08:50:07 1994",  # obsolete asctime: GMT, no zone written
    ],
)
def test_every_http_date_form_is_read(value: str) -> None:
    """RFC 9110 section 5.6.7: a recipient accepts all three forms; each is 30 s after NOW."""
    assert email.utils.formatdate(NOW, usegmt=True) == "Sun, 06 Nov 1994 08:49:37 GMT"
    assert parse_retry_after({"Retry-After": value}, now=NOW) == pytest.approx(30.0)
