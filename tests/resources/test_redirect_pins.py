"""Pins on redirects: a cookie the caller set never follows a redirect to another origin."""

from __future__ import annotations

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport
from .helpers import API_KEY, ICA, PROJECT, UUID, data_transfer

TRANSFER_URL = f"{ICA}/api/projects/{PROJECT}/dataTransfers/{UUID}"
COOKIE = {"Cookie": "session=s3cret"}


def sent_headers(http: FakeTransport, url: str) -> dict[str, str]:
    """The headers of the first request sent to ``url``."""
    return dict(next(call.headers for call in http.sent if call.url == url))


async def test_cookie_is_stripped_on_a_cross_origin_redirect(http: FakeTransport) -> None:
    """A Cookie given as an extra header is not sent to the other origin."""
    async with ita.IcaClient(ICA, api_key=API_KEY, transport=http, extra_headers=COOKIE) as ica:
        http.get(TRANSFER_URL, status=302, headers={"Location": "https://elsewhere.test/t"})
        http.get("https://elsewhere.test/t", status=200, payload=data_transfer())
        await ica.data_transfers.get(PROJECT, UUID)
    assert "cookie" not in {h.lower() for h in sent_headers(http, "https://elsewhere.test/t")}


async def test_cookie_is_sent_to_the_first_origin(http: FakeTransport) -> None:
    """The caller's Cookie does reach the origin it was meant for."""
    async with ita.IcaClient(ICA, api_key=API_KEY, transport=http, extra_headers=COOKIE) as ica:
        http.get(TRANSFER_URL, status=302, headers={"Location": "https://elsewhere.test/t"})
        http.get("https://elsewhere.test/t", status=200, payload=data_transfer())
        await ica.data_transfers.get(PROJECT, UUID)
    assert sent_headers(http, TRANSFER_URL)["Cookie"] == "session=s3cret"


async def test_cookie_is_kept_on_a_same_origin_redirect(http: FakeTransport) -> None:
    """Within one origin the Cookie follows, like the other credentials."""
    async with ita.IcaClient(ICA, api_key=API_KEY, transport=http, extra_headers=COOKIE) as ica:
        http.get(TRANSFER_URL, status=307, headers={"Location": "/ica/rest/moved"})
        http.get("https://ica.test/ica/rest/moved", status=200, payload=data_transfer())
        await ica.data_transfers.get(PROJECT, UUID)
    assert sent_headers(http, "https://ica.test/ica/rest/moved")["Cookie"] == "session=s3cret"
