"""Request building: URLs, query pairs, headers, idempotency keys, origins."""

from __future__ import annotations

import pytest

from ica_tapis_async._core._request import (
    Request,
    build_url,
    make_idempotency_key,
    merge_headers,
    query,
    redact_headers,
    same_origin,
    with_query,
)
from ica_tapis_async._errors import RequestValidationError


def test_build_url_keeps_the_colon_of_custom_methods() -> None:
    """`:abort` reaches the server as written while path ids are quoted."""
    url = build_url(
        "https://h/ica/rest/",
        "/api/projects/{p}/dataTransfers/{t}:abort",
        p="p 1",
        t="a/b",
    )
    assert url == "https://h/ica/rest/api/projects/p%201/dataTransfers/a%2Fb:abort"


def test_build_url_refuses_empty_ids() -> None:
    """An empty path id is a typed error naming the parameter."""
    with pytest.raises(RequestValidationError, match="p: must be a non-empty string"):
        build_url("https://h", "/x/{p}", p="")


def test_query_repeats_sequences_and_drops_none() -> None:
    """Arrays become repeated parameters; None disappears; bools are lower case."""
    pairs = query(status=["FAILED", "LINKED"], pageToken=None, includeSummary=True, pageSize=10)
    assert pairs == [
        ("status", "FAILED"),
        ("status", "LINKED"),
        ("includeSummary", "true"),
        ("pageSize", "10"),
    ]
    assert with_query("https://h/x", pairs) == (
        "https://h/x?status=FAILED&status=LINKED&includeSummary=true&pageSize=10"
    )


def test_merge_headers_is_case_insensitive_and_later_wins() -> None:
    """A later layer replaces a header whatever its case."""
    merged = merge_headers({"Accept": "a", "X-One": "1"}, {"accept": "b"})
    assert merged == {"X-One": "1", "accept": "b"}


def test_idempotency_key_generated_or_validated() -> None:
    """A key is made when none is given; a caller's key is checked, not changed."""
    made = make_idempotency_key()
    assert made.startswith("ita-")
    assert len(made) <= 255
    assert make_idempotency_key("run-1-chunk-0") == "run-1-chunk-0"
    with pytest.raises(RequestValidationError, match="at most 255"):
        make_idempotency_key("k" * 256)
    with pytest.raises(RequestValidationError, match="printable ASCII"):
        make_idempotency_key("bad\nkey")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://h/x", "https://h:443/y", True),
        ("https://h/x", "http://h/x", False),
        ("https://h/x", "https://evil/x", False),
        ("http://127.0.0.1:80/a", "http://127.0.0.1/b", True),
        ("http://h:8080/a", "http://h:8081/a", False),
    ],
)
def test_same_origin(a: str, b: str, same: bool) -> None:
    """Origins compare scheme, host and (default) port."""
    assert same_origin(a, b) is same


def test_idempotent_rules() -> None:
    """GET always; POST only with a key or when declared safe."""
    assert Request("GET", "u", {}).idempotent
    assert not Request("POST", "u", {}).idempotent
    assert Request("POST", "u", {}, idempotency_key="k").idempotent
    assert Request("DELETE", "u", {}, declared_idempotent=True).idempotent


def test_redact_headers() -> None:
    """Credential headers are masked for logs."""
    out = redact_headers({"X-API-Key": "s3cret", "Authorization": "Bearer x", "Accept": "a"})
    assert out == {"X-API-Key": "<redacted>", "Authorization": "<redacted>", "Accept": "a"}
