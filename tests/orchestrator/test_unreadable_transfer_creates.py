"""A Tapis create answered 2xx with a body that cannot be read: the task exists, adopt it.

Adversarial review of issue 20 (points 5 and 6): a success answer over ``max_body_size`` or of
the wrong shape raises ``ResponseValidationError``. For a create it means Tapis made the task:
the orchestrator must find it by its tag (never create it again), and the run must not end.
"""

from __future__ import annotations

from collections.abc import Mapping

import anyio
import pytest

import ica_tapis_async as ita
from ica_tapis_async._transport import AiohttpTransport, RawResponse
from ica_tapis_async.simulator import Simulator

from .helpers import eventually
from .test_transfers import request


class HtmlAfterCreate:
    """Forwards every request; the first create's answer is replaced by a proxy's HTML page
    (the task was created all the same)."""

    def __init__(self, status: int = 200, content_type: str = "text/html") -> None:
        self.inner = AiohttpTransport()
        self.replaced = 0
        self.status, self.content_type = status, content_type

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: ita.Timeouts,
    ) -> RawResponse:
        answer = await self.inner.send(method, url, headers, body, timeouts)
        if method == "POST" and url.endswith("/v3/files/transfers") and not self.replaced:
            self.replaced += 1
            return RawResponse(
                status=self.status,
                reason="",
                headers={"Content-Type": self.content_type},
                body=b"<html><body>Welcome to the proxy</body></html>",
                url=url,
            )
        return answer

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize("status", [200, 300, 302])
async def test_a_create_answered_with_an_unreadable_success_is_adopted_not_fatal(
    status: int,
) -> None:
    """Two requests; the first create is answered with HTML (a 200, or a 3xx without Location
    that the client cannot follow): that task is found by its tag and followed, never reported
    NOT_CREATED; the other is created; two tasks in all, the run ends with a report."""
    transport = HtmlAfterCreate(status)
    async with Simulator(seed=5) as sim:
        async with ita.TapisClient(sim.tapis_url, token="t", transport=transport) as tapis:
            orch = ita.TransferOrchestrator(tapis, poll_initial=0.02, poll_max=0.2)
            report = await orch.run([request(0), request(1)])
        await transport.aclose()
    assert transport.replaced == 1
    assert report.counts == {"COMPLETED": 2}
    assert sim.stats.tapis_tasks == 2
    assert report.outcomes[0].recovered


class HtmlOnReads(HtmlAfterCreate):
    """Forwards every request; every read of one task answers a proxy's HTML page."""

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: ita.Timeouts,
    ) -> RawResponse:
        answer = await self.inner.send(method, url, headers, body, timeouts)
        if method == "GET" and "/v3/files/transfers/" in url:
            self.replaced += 1
            return RawResponse(200, "OK", {"Content-Type": "text/html"}, b"<html>hi</html>", url)
        return answer


async def test_an_unreadable_answer_while_following_a_task_is_unknown_not_fatal() -> None:
    """The task was created; reading it gets HTML: UNKNOWN with its uuid (a re-run with the
    journal looks again), and the run ends with its report instead of the error."""
    transport = HtmlOnReads()
    async with Simulator(seed=5) as sim:
        async with ita.TapisClient(sim.tapis_url, token="t", transport=transport) as tapis:
            orch = ita.TransferOrchestrator(tapis, poll_initial=0.02, poll_max=0.2)
            report = await orch.run([request(0)])
        await transport.aclose()
    assert transport.replaced >= 1
    assert report.counts == {"UNKNOWN": 1}
    assert report.outcomes[0].uuid is not None
    assert sim.stats.tapis_tasks == 1


class HtmlOnFirstCancel(HtmlAfterCreate):
    """Forwards every request; the first cancel's answer is replaced by a proxy's HTML page."""

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: ita.Timeouts,
    ) -> RawResponse:
        answer = await self.inner.send(method, url, headers, body, timeouts)
        if method == "DELETE" and not self.replaced:
            self.replaced += 1
            return RawResponse(200, "OK", {"Content-Type": "text/html"}, b"<html>hi</html>", url)
        return answer


async def test_cancel_goes_on_past_a_cancel_answered_by_a_page() -> None:
    """Point 5 makes an HTML answer to a Tapis cancel an error (no confirmation). cancel() must
    still ask for every other task to be cancelled, and the run must end with its report."""
    transport = HtmlOnFirstCancel()
    async with Simulator(seed=4, tapis_step_s=0.5) as sim:
        async with ita.TapisClient(sim.tapis_url, token="t", transport=transport) as tapis:
            orch = ita.TransferOrchestrator(tapis, poll_initial=0.05, poll_max=0.1)
            result: list[ita.TransferReport] = []

            async def run() -> None:
                result.append(await orch.run([request(i) for i in range(3)]))

            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                await eventually(lambda: len(orch._outstanding) == 3)
                assert await orch.cancel() == 3
        await transport.aclose()
    assert transport.replaced == 1
    assert sim.stats.tapis_cancels == 3  # the page came after the first cancel was done
    assert result[0].counts == {"CANCELLED": 3}


class HtmlAfterCreateAndOnLookUps(HtmlAfterCreate):
    """The first create's answer and every listing of recent tasks (the tag look-up) answer a
    proxy's HTML page; the task is created all the same."""

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: ita.Timeouts,
    ) -> RawResponse:
        if method == "GET" and url.split("?")[0].endswith("/v3/files/transfers"):
            self.replaced += 1
            return RawResponse(200, "OK", {"Content-Type": "text/html"}, b"<html>hi</html>", url)
        return await super().send(method, url, headers, body, timeouts)


async def test_an_unreadable_create_whose_tag_look_up_is_unreadable_too_is_unknown() -> None:
    """The create was accepted (its answer a page) and the look-up of its tag cannot be read
    either: the request is UNKNOWN with its tag (a re-run looks again), never NOT_CREATED, never
    POSTed again, and the run ends with its report instead of the look-up's error."""
    transport = HtmlAfterCreateAndOnLookUps()
    async with Simulator(seed=5) as sim:
        async with ita.TapisClient(sim.tapis_url, token="t", transport=transport) as tapis:
            orch = ita.TransferOrchestrator(tapis, poll_initial=0.02, poll_max=0.2)
            report = await orch.run([request(0)])
        await transport.aclose()
    assert transport.replaced >= 2
    assert report.counts == {"UNKNOWN": 1}
    assert report.outcomes[0].uuid is None
    assert report.outcomes[0].tag
    assert sim.stats.tapis_tasks == 1
