"""Pins on reading answers: which bodies are JSON, and what an empty or odd body becomes."""

from __future__ import annotations

import orjson
import pytest

from ica_tapis_async._core._response import decode_body, is_json_content


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/problem+json",
        "application/vnd.illumina.v3+json",
        "  application/json ;charset=utf-8",
        "application/json; charset=utf-8; profile=x",
    ],
)
def test_json_media_types(content_type: str) -> None:
    """JSON, problem+json and vendor +json types, any case, parameters ignored."""
    assert is_json_content(content_type)


@pytest.mark.parametrize(
    "content_type", ["text/html", "text/plain; charset=json", "", "application/jsonl"]
)
def test_other_media_types(content_type: str) -> None:
    """Anything else is not JSON, even with 'json' in a parameter."""
    assert not is_json_content(content_type)


def test_empty_body_is_none() -> None:
    """No bytes decode to None whatever the type says."""
    assert decode_body("application/json", b"") is None


def test_json_body_is_decoded() -> None:
    """A JSON media type is parsed."""
    assert decode_body("application/json", b'{"a": [1, 2]}') == {"a": [1, 2]}


def test_json_media_type_with_a_bad_body_raises() -> None:
    """A body that claims JSON and is not is an error, not text."""
    with pytest.raises(orjson.JSONDecodeError):
        decode_body("application/json", b"<html>")


@pytest.mark.parametrize("body", [b'{"a": 1}', b"  [1]", b'\n{"a": 1}'])
def test_json_looking_text_is_parsed(body: bytes) -> None:
    """A text/plain body that starts with { or [ (after blanks) is parsed as JSON."""
    assert decode_body("text/plain", body) == orjson.loads(body)


def test_broken_json_looking_text_stays_text() -> None:
    """Text that starts like JSON but is not stays text."""
    assert decode_body("text/plain", b"{not json") == "{not json"


def test_text_body_is_text() -> None:
    """Other text is decoded as UTF-8."""
    assert decode_body("text/html", "héllo".encode()) == "héllo"


def test_text_body_keeps_its_own_spacing() -> None:
    """Text is returned whole, leading blanks included."""
    assert decode_body("text/plain", b"  two words ") == "  two words "


def test_invalid_utf8_is_replaced_not_raised() -> None:
    """Bytes that are not UTF-8 become replacement characters."""
    assert decode_body("text/plain", b"ok \xff") == "ok \ufffd"


def test_text_starting_with_a_brace_later_is_text() -> None:
    """Only the first non-blank character decides: 'a{' is text."""
    assert decode_body("text/plain", b"a{1}") == "a{1}"
