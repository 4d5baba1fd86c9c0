"""Pins on redirect decisions: where a 3xx leads and what may follow it there."""

from __future__ import annotations

import pytest

from ica_tapis_async._core._redirect import REDIRECT_STATUSES, Hop, next_hop

URL = "https://ica.test/ica/rest/api/x"
CREDENTIALS = {
    "X-API-Key": "k",
    "Authorization": "Bearer t",
    "X-Tapis-Token": "j",
    "Cookie": "s=1",
    "Accept": "application/json",
    "Content-Type": "application/json",
}


def hop(status: int, location: str | None, method: str = "POST") -> Hop | None:
    """Where ``status`` with ``location`` leads a request carrying every credential."""
    headers = {} if location is None else {"Location": location}
    return next_hop(method, URL, CREDENTIALS, b"{}", status=status, response_headers=headers)


def test_redirect_statuses() -> None:
    """301, 302, 303, 307 and 308 redirect; nothing else does."""
    assert frozenset({301, 302, 303, 307, 308}) == REDIRECT_STATUSES


@pytest.mark.parametrize("status", [200, 204, 300, 304, 305, 400, 500])
def test_other_statuses_are_final(status: int) -> None:
    """Any other status is the answer, Location or not."""
    assert hop(status, "https://ica.test/y") is None


def test_redirect_without_location_is_final() -> None:
    """A 3xx without Location cannot be followed: it is the answer."""
    assert hop(307, None) is None


def test_empty_location_is_final() -> None:
    """An empty Location is no Location."""
    assert hop(307, "") is None


def test_location_header_name_is_case_insensitive() -> None:
    """``location`` in any case is found."""
    found = next_hop("GET", URL, {}, None, status=307, response_headers={"LOCATION": "/ica/rest/y"})
    assert found == Hop("GET", "https://ica.test/ica/rest/y", {}, None, False)


def test_relative_location_is_joined_to_the_url() -> None:
    """A relative Location is resolved against the request URL."""
    found = hop(307, "y")
    assert found is not None
    assert found.url == "https://ica.test/ica/rest/api/y"


@pytest.mark.parametrize("status", [307, 308])
def test_307_and_308_keep_method_body_and_headers(status: int) -> None:
    """A 307/308 within the origin repeats the request as it was."""
    assert hop(status, "/ica/rest/z") == Hop(
        "POST", "https://ica.test/ica/rest/z", CREDENTIALS, b"{}", False
    )


def test_cross_origin_hop_drops_every_credential() -> None:
    """Another origin gets no API key, bearer token, Tapis token or cookie."""
    assert hop(307, "https://elsewhere.test/z") == Hop(
        "POST",
        "https://elsewhere.test/z",
        {"Accept": "application/json", "Content-Type": "application/json"},
        b"{}",
        True,
    )


def test_credentials_dropped_whatever_their_case() -> None:
    """Header names are compared without case."""
    found = next_hop(
        "GET",
        URL,
        {"x-api-key": "k", "COOKIE": "c"},
        None,
        status=302,
        response_headers={"Location": "https://elsewhere.test/"},
    )
    assert found is not None
    assert dict(found.headers) == {}


@pytest.mark.parametrize(
    ("status", "method", "after"),
    [(303, "POST", "GET"), (303, "DELETE", "GET"), (301, "POST", "GET"), (302, "POST", "GET")],
)
def test_see_other_and_old_redirects_of_a_non_get_become_a_get(
    status: int, method: str, after: str
) -> None:
    """303 (and 301/302 of a non-GET) is followed with a GET, no body and no Content-Type."""
    found = hop(status, "/ica/rest/z", method=method)
    expected = {k: v for k, v in CREDENTIALS.items() if k != "Content-Type"}
    assert found == Hop(after, "https://ica.test/ica/rest/z", expected, None, False)


@pytest.mark.parametrize("status", [301, 302])
def test_old_redirects_of_a_get_stay_a_get_with_their_headers(status: int) -> None:
    """A GET redirected by 301/302 keeps its headers."""
    found = next_hop(
        "GET", URL, CREDENTIALS, None, status=status, response_headers={"Location": "/a"}
    )
    assert found == Hop("GET", "https://ica.test/a", CREDENTIALS, None, False)
