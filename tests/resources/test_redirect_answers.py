"""Redirects that cannot be followed, and targets sent encoded (issue 20, points 1 and 9).

A 3xx the client cannot follow is an error answer, never a success; a ``Location`` that is
no followable URL is an :class:`APIConnectionError`, never a builtin or yarl exception.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

import ica_tapis_async as ita

from ..unit.fakes import FakeTransport
from .helpers import ICA, PROJECT, UUID, data_transfer

TRANSFER_URL = f"{ICA}/api/projects/{PROJECT}/dataTransfers/{UUID}"


@pytest.mark.parametrize(
    ("status", "headers"),
    [(302, {}), (301, {"Location": ""}), (300, {"Location": "/ica/rest/x"}), (304, {})],
    ids=["302-no-location", "301-empty-location", "300-multiple-choices", "304"],
)
async def test_a_redirect_that_cannot_be_followed_is_an_error_answer(
    http: FakeTransport, ica: ita.IcaClient, status: int, headers: dict[str, str]
) -> None:
    """A 3xx without a Location (or a 300/304) raises APIStatusError with its status."""
    http.get(TRANSFER_URL, status=status, headers=headers, payload=data_transfer())
    with pytest.raises(ita.APIStatusError) as caught:
        await ica.data_transfers.get(PROJECT, UUID)
    assert caught.value.status == status
    assert len(http.sent) == 1  # not retried: the same answer would come back


@pytest.mark.parametrize(
    "location",
    [
        "https://ica.test:99999/x",
        "https://ica.test:port/x",
        "https://[::1/x",
        "https://[zzz]/x",
        "https://ica.test\\evil.test/x",
        "\\\\evil.test/x",
        "/x\r\nSet-Cookie: a=b",
        "file:///etc/passwd",
        "https:///x",
    ],
)
async def test_a_location_that_is_no_url_is_a_connection_error(
    http: FakeTransport, ica: ita.IcaClient, location: str
) -> None:
    """Bad port, broken IPv6 host, backslash, control characters, other schemes, no host."""
    http.get(TRANSFER_URL, status=302, headers={"Location": location}, repeat=True)
    with pytest.raises(ita.APIConnectionError, match="cannot follow the redirect") as caught:
        await ica.data_transfers.get(PROJECT, UUID, max_retries=0)
    assert type(caught.value) is ita.APIConnectionError
    assert len(http.sent) == 1  # nothing was sent to the target


async def test_a_redirect_target_is_encoded_before_it_is_sent(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    """Spaces and non-ASCII in a Location are percent-encoded; existing escapes are kept."""
    http.get(TRANSFER_URL, status=307, headers={"Location": "/ica/rest/mö ved/a%2Fb?q=x y"})
    http.get("https://ica.test/ica/rest/m%C3%B6%20ved/a%2Fb?q=x%20y", payload=data_transfer())
    await ica.data_transfers.get(PROJECT, UUID)
    assert http.sent[1].url == "https://ica.test/ica/rest/m%C3%B6%20ved/a%2Fb?q=x%20y"


async def test_an_international_redirect_host_is_sent_in_its_idna_form(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    """A Location naming bücher.test goes to xn--bcher-kva.test, not to a %-escaped host."""
    http.get(TRANSFER_URL, status=302, headers={"Location": "https://Bücher.test/ä"})
    http.get("https://xn--bcher-kva.test/%C3%A4", payload=data_transfer())
    await ica.data_transfers.get(PROJECT, UUID)
    assert http.sent[1].url == "https://xn--bcher-kva.test/%C3%A4"


async def test_a_host_idna_cannot_spell_is_a_connection_error(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    """A label too long for IDNA is refused as unfollowable, not a UnicodeError."""
    http.get(TRANSFER_URL, status=302, headers={"Location": "https://" + "ü" * 70 + ".test/"})
    with pytest.raises(ita.APIConnectionError, match="cannot follow the redirect"):
        await ica.data_transfers.get(PROJECT, UUID, max_retries=0)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:99999/x", "http://[::1/x", "http://h\\evil/y", "http:///x"]
)
async def test_the_aiohttp_transport_refuses_a_url_it_cannot_send_by_a_library_error(
    url: str,
) -> None:
    """A URL yarl refuses is an APIConnectionError from the transport, not a ValueError."""
    transport = ita.AiohttpTransport()
    try:
        with pytest.raises(ita.APIConnectionError):
            await transport.send("GET", url, {}, None, ita.Timeouts(total=1))
    finally:
        await transport.aclose()


async def test_a_refused_location_with_user_info_is_shown_redacted(
    http: FakeTransport, ica: ita.IcaClient
) -> None:
    """The error repeats a bad Location without the password it carries."""
    http.get(TRANSFER_URL, status=302, headers={"Location": "https://u:hunter2@h:99999/x"})
    with pytest.raises(ita.APIConnectionError) as caught:
        await ica.data_transfers.get(PROJECT, UUID, max_retries=0)
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in repr(vars(caught.value))


async def test_a_library_refusal_inside_the_transport_is_not_a_connection_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only yarl's ValueError becomes APIConnectionError; a RequestValidationError stays itself."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ita.RequestValidationError("refused", field="session")

    monkeypatch.setattr(aiohttp.ClientSession, "request", refuse)
    transport = ita.AiohttpTransport()
    try:
        with pytest.raises(ita.RequestValidationError) as caught:
            await transport.send("GET", "http://127.0.0.1:9/x", {}, None, ita.Timeouts(total=1))
    finally:
        await transport.aclose()
    assert caught.value.field == "session"
