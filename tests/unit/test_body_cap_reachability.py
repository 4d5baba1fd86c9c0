"""An answer over ``max_body_size`` is still an answer: the server has been reached.

Adversarial review of issue 20, point 6 against the ``unreachable_after`` promise ("once any
answer has arrived this never triggers"): a first answer refused for its size left the client
believing it had never reached the server, so later connection failures ended in
``ServerUnreachableError`` ("none has ever succeeded").
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
import pytest

import ica_tapis_async as ita

from ..resources.helpers import BATCH, ICA, PROJECT, batch
from .fakes import FakeClock

URL = f"{ICA}/api/projects/{PROJECT}/dataLinkingBatch/{BATCH}"


class AnswersOnceThenDown:
    """Answers the first request with a body of 5 kB, then refuses every connection."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent = 0

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: ita.Timeouts,
    ) -> ita.RawResponse:
        self.sent += 1
        if self.sent == 1:
            payload = orjson.dumps({**batch(), "pad": "x" * 5000})
            return ita.RawResponse(200, "OK", {"Content-Type": "application/json"}, payload, url)
        self.clock.now += 3
        raise ita.APIConnectionError("refused", method=method, url=url, connect_failed=True)

    async def aclose(self) -> None:
        """Nothing to close."""


async def test_an_oversized_first_answer_counts_as_reaching_the_server() -> None:
    """After a refused-for-size answer, 30 s of refused connections are retried connection
    errors, never ServerUnreachableError."""
    clock = FakeClock()
    transport = AnswersOnceThenDown(clock)
    policy = ita.RetryPolicy(max_attempts=10, total_timeout=None, initial_backoff=1, jitter=False)
    async with ita.IcaClient(
        ICA, api_key="k", transport=transport, clock=clock, sleep=clock.sleep, retry=policy,
        max_body_size=1000,
    ) as ica:  # fmt: skip
        with pytest.raises(ita.ResponseValidationError):
            await ica.data_linking_batches.get(PROJECT, BATCH)
        with pytest.raises(ita.APIConnectionError) as caught:
            await ica.data_linking_batches.get(PROJECT, BATCH)
    assert not isinstance(caught.value, ita.ServerUnreachableError)
    assert transport.sent == 11  # all ten attempts of the second call were made
