"""Redirect decisions without I/O: where a 3xx leads and what may follow it."""

from __future__ import annotations

from ica_tapis_async._core._redirect import next_hop

HEADERS = {"X-API-Key": "k", "Authorization": "Bearer j", "Content-Type": "a/b", "X-Trace": "1"}


def test_final_answers_have_no_hop() -> None:
    """A 200, or a 3xx without Location, is final."""
    assert next_hop("GET", "https://h/a", HEADERS, None, status=200, response_headers={}) is None
    assert next_hop("GET", "https://h/a", HEADERS, None, status=302, response_headers={}) is None


def test_same_origin_keeps_credentials_and_method() -> None:
    """A 307 on the same origin keeps method, body and credentials; Location may be relative."""
    hop = next_hop(
        "POST", "https://h/a/b", HEADERS, b"{}", status=307, response_headers={"location": "c"}
    )
    assert hop is not None
    assert (hop.method, hop.url, hop.body, hop.cross_origin) == (
        "POST",
        "https://h/a/c",
        b"{}",
        False,
    )
    assert hop.headers["X-API-Key"] == "k"


def test_other_origin_drops_every_credential() -> None:
    """A redirect to another host (or port, or scheme) carries no credential header."""
    for target in ("https://evil/x", "https://h:8443/x", "http://h/x"):
        hop = next_hop(
            "GET", "https://h/a", HEADERS, None, status=302, response_headers={"Location": target}
        )
        assert hop is not None
        assert hop.cross_origin
        assert set(hop.headers) == {"Content-Type", "X-Trace"}


def test_see_other_becomes_a_get_without_body() -> None:
    """A 303 (and a 302 after a POST) turns into a GET without body or Content-Type."""
    for status in (303, 302):
        hop = next_hop(
            "POST",
            "https://h/a",
            HEADERS,
            b"{}",
            status=status,
            response_headers={"Location": "/b"},
        )
        assert hop is not None
        assert (hop.method, hop.body) == ("GET", None)
        assert "Content-Type" not in hop.headers
