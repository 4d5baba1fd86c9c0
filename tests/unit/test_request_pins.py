"""Pins on request building: idempotency keys, query values, URLs, headers and origins."""

from __future__ import annotations

import re

import pytest

from ica_tapis_async._core._request import (
    SENSITIVE_HEADERS,
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


def refusal(key: object) -> str:
    """The whole message ``make_idempotency_key`` refuses ``key`` with."""
    with pytest.raises(RequestValidationError) as info:
        make_idempotency_key(key)  # type: ignore[arg-type]
    return str(info.value)


def test_empty_idempotency_key_is_refused() -> None:
    """An empty key would make every call the same call: refused, not replaced."""
    assert refusal("") == "idempotency_key: must be a non-empty string"


def test_non_string_idempotency_key_is_refused() -> None:
    """A number is not a key."""
    assert refusal(42) == "idempotency_key: must be a non-empty string"


def test_idempotency_key_of_255_characters_is_accepted() -> None:
    """255 characters is the longest key ICA takes, and it is sent unchanged."""
    assert make_idempotency_key("k" * 255) == "k" * 255


def test_idempotency_key_of_256_characters_is_refused() -> None:
    """One more is refused, with the length in the message."""
    assert refusal("k" * 256) == "idempotency_key: must be at most 255 characters, got 256"


@pytest.mark.parametrize("key", ["clé", "tab\there", "line\nbreak", "del\x7f"])
def test_idempotency_key_must_be_printable_ascii(key: str) -> None:
    """A key travels in a header: non-ASCII and control characters are refused."""
    assert refusal(key) == (
        "idempotency_key: must be printable ASCII (it travels in an HTTP header)"
    )


def test_idempotency_key_with_spaces_and_punctuation_is_kept() -> None:
    """Printable ASCII, spaces included, is the caller's business."""
    assert make_idempotency_key("run 1: chunk/0") == "run 1: chunk/0"


def test_generated_key_is_ita_and_a_uuid4() -> None:
    """A made key is ``ita-`` and a random UUID."""
    pattern = r"ita-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert re.fullmatch(pattern, make_idempotency_key())


def test_generated_keys_differ() -> None:
    """Two logical calls never share a made key."""
    assert len({make_idempotency_key() for _ in range(20)}) == 20


@pytest.mark.parametrize(("value", "text"), [(False, "false"), (True, "true")])
def test_bool_query_values_are_lower_case_words(value: bool, text: str) -> None:
    """``False`` is sent as ``false``, not dropped and not ``False``."""
    assert query(flag=value) == [("flag", text)]


def test_zero_and_empty_string_query_values_are_kept() -> None:
    """Only None is dropped: 0 and "" are values."""
    assert query(offset=0, name="") == [("offset", "0"), ("name", "")]


def test_empty_sequence_sends_no_parameter() -> None:
    """An empty list sends nothing, not an empty value."""
    assert query(status=[], pageSize=5) == [("pageSize", "5")]


def test_query_keeps_argument_order() -> None:
    """Pairs come out in the order given (filters before paging, as written)."""
    assert query(b="2", a="1", c=["3", "4"]) == [("b", "2"), ("a", "1"), ("c", "3"), ("c", "4")]


def test_with_query_without_pairs_leaves_the_url_alone() -> None:
    """No pairs, no question mark."""
    assert with_query("https://h/x", []) == "https://h/x"


def test_with_query_encodes_values() -> None:
    """Spaces, ampersands and equals signs in values are escaped."""
    assert with_query("https://h/x", [("q", "a b&c=d")]) == "https://h/x?q=a+b%26c%3Dd"


def test_build_url_strips_trailing_slashes_of_the_base() -> None:
    """Any number of trailing slashes on the base give one slash before the path."""
    assert build_url("https://h/ica/rest//", "/api/x") == "https://h/ica/rest/api/x"


def test_build_url_strips_only_slashes() -> None:
    """A base ending in another character keeps it."""
    assert build_url("https://h/X", "/api") == "https://h/X/api"


def test_build_url_quotes_every_special_character() -> None:
    """A path id with slash, question mark, hash or percent stays one segment."""
    url = build_url("https://h", "/x/{id}", id="a/b?c#d%e")
    assert url == "https://h/x/a%2Fb%3Fc%23d%25e"


@pytest.mark.parametrize("bad", ["", None, 7])
def test_build_url_refuses_empty_or_non_string_ids(bad: object) -> None:
    """A path id must be a non-empty string; the message names the parameter."""
    with pytest.raises(RequestValidationError) as info:
        build_url("https://h", "/x/{project}", project=bad)  # type: ignore[arg-type]
    assert str(info.value) == "project: must be a non-empty string"


def test_merge_headers_skips_missing_layers() -> None:
    """None layers are skipped."""
    assert merge_headers(None, {"A": "1"}, None) == {"A": "1"}


def test_merge_headers_keeps_the_last_spelling() -> None:
    """The winning layer's spelling of the name is the one sent."""
    assert merge_headers({"X-Key": "1"}, {"x-key": "2"}, {"X-KEY": "3"}) == {"X-KEY": "3"}


def test_sensitive_headers() -> None:
    """The credential headers: API key, bearer token, Tapis token and cookies."""
    assert frozenset({"x-api-key", "authorization", "x-tapis-token", "cookie"}) == (
        SENSITIVE_HEADERS
    )


def test_cookie_and_tapis_token_are_redacted_in_any_case() -> None:
    """Cookie and X-Tapis-Token values never reach a log, whatever their spelling."""
    out = redact_headers({"cookie": "session=s3cret", "X-TAPIS-TOKEN": "t", "Accept": "a"})
    assert out == {"cookie": "<redacted>", "X-TAPIS-TOKEN": "<redacted>", "Accept": "a"}


def test_redact_headers_returns_a_copy() -> None:
    """The headers that will be sent keep their real values."""
    headers = {"X-API-Key": "s3cret"}
    redact_headers(headers)
    assert headers == {"X-API-Key": "s3cret"}


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("HTTPS://H.test/x", "https://h.TEST/y", True),
        ("http://h/x", "http://h:80/y", True),
        ("https://h:8443/x", "https://h:443/x", False),
        ("https://h/x", "https://h.evil/x", False),
        ("ftp://h/x", "ftp://h:21/x", False),
        ("/a", "/b", True),
        ("/a", "https://h/b", False),
    ],
)
def test_origin_comparison_ignores_case_and_default_ports(a: str, b: str, same: bool) -> None:
    """Scheme and host compare without case; 80 and 443 are the only default ports."""
    assert same_origin(a, b) is same


@pytest.mark.parametrize(
    ("request_", "retryable"),
    [
        (Request("GET", "u", {}), True),
        (Request("POST", "u", {}), False),
        (Request("PUT", "u", {}), False),
        (Request("POST", "u", {}, idempotency_key=""), True),
        (Request("POST", "u", {}, declared_idempotent=True), True),
    ],
)
def test_which_requests_may_be_repeated(request_: Request, retryable: bool) -> None:
    """GET, a keyed request (any key, even empty) or one declared safe."""
    assert request_.idempotent is retryable
