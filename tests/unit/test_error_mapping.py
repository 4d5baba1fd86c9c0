"""Pins on the error mapping: which class an answer becomes, and what the error carries."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

import ica_tapis_async as ita
from ica_tapis_async._core._response import error_from_response
from ica_tapis_async._core._retry import is_throttle
from ica_tapis_async._errors import make_status_error, status_error_class

URL = "https://ica.test/ica/rest/api/x"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ita.BadRequestError),
        (401, ita.AuthenticationError),
        (403, ita.PermissionDeniedError),
        (404, ita.NotFoundError),
        (409, ita.ConflictError),
        (422, ita.UnprocessableEntityError),
        (429, ita.RateLimitError),
        (500, ita.ServerError),
        (502, ita.ServerError),
        (503, ita.ServerError),
        (599, ita.ServerError),
        (405, ita.APIStatusError),
        (418, ita.APIStatusError),
        (499, ita.APIStatusError),
    ],
)
def test_status_maps_to_its_class_without_a_key(status: int, cls: type[Exception]) -> None:
    """Each status has exactly one class when the request carried no Idempotency-Key."""
    assert status_error_class(status) is cls


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (409, ita.IdempotencyInProgressError),
        (422, ita.IdempotencyConflictError),
        (400, ita.BadRequestError),
        (404, ita.NotFoundError),
        (429, ita.RateLimitError),
        (503, ita.ServerError),
        (418, ita.APIStatusError),
    ],
)
def test_status_maps_to_its_class_with_a_key(status: int, cls: type[Exception]) -> None:
    """A key changes only 409 (still in progress) and 422 (key reused with another body)."""
    assert status_error_class(status, idempotency_key="k-1") is cls


def test_an_empty_key_still_counts_as_a_key() -> None:
    """Only ``None`` means 'no key': the mapping does not test the key's truth."""
    assert status_error_class(409, idempotency_key="") is ita.IdempotencyInProgressError


@pytest.mark.parametrize(
    ("sub", "parent"),
    [
        (ita.IdempotencyInProgressError, ita.ConflictError),
        (ita.IdempotencyConflictError, ita.UnprocessableEntityError),
        (ita.APITimeoutError, ita.APIConnectionError),
        (ita.ServerUnreachableError, ita.APIConnectionError),
        (ita.RateLimitError, ita.APIStatusError),
        (ita.APIStatusError, ita.APIError),
        (ita.RequestValidationError, ValueError),
        (ita.PaginationError, ita.IcaTapisError),
        (ita.WaiterError, ita.IcaTapisError),
    ],
)
def test_exception_tree(sub: type[Exception], parent: type[Exception]) -> None:
    """The documented tree: callers catch by the parent."""
    assert issubclass(sub, parent)


def status_error(**overrides: object) -> ita.APIStatusError:
    """A 409 built the way the session builds errors."""
    options: dict[str, object] = {
        "status": 409,
        "method": "POST",
        "url": URL,
        "headers": {"X-Request-Id": "req-7", "Content-Type": "application/problem+json"},
        "body": {"title": "Conflict"},
        "idempotency_key": "k-1",
    }
    options.update(overrides)
    return make_status_error("POST x -> 409 Conflict", **options)  # type: ignore[arg-type]


def test_status_error_keeps_the_message() -> None:
    """The text is the message given, and ``message`` holds it too."""
    err = status_error()
    assert (str(err), err.message) == ("POST x -> 409 Conflict", "POST x -> 409 Conflict")


def test_status_error_keeps_method_and_url() -> None:
    """Method and URL of the request are on the error."""
    err = status_error()
    assert (err.method, err.url) == ("POST", URL)


def test_status_error_keeps_status_body_and_key() -> None:
    """Status, decoded body and the request's key are on the error."""
    err = status_error()
    assert (err.status, err.body, err.idempotency_key) == (409, {"title": "Conflict"}, "k-1")


def test_status_error_copies_the_headers() -> None:
    """The headers are a copy: changing the caller's mapping later changes nothing."""
    headers = {"X-Request-Id": "req-7"}
    err = status_error(headers=headers)
    headers["X-Request-Id"] = "changed"
    assert err.headers == {"X-Request-Id": "req-7"}


def test_status_error_without_headers_has_an_empty_dict() -> None:
    """No headers is an empty dict, not None."""
    assert status_error(headers=None).headers == {}


@pytest.mark.parametrize("name", ["X-Request-Id", "x-request-id", "X-Correlation-Id", "Request-Id"])
def test_request_id_is_read_from_any_of_its_headers(name: str) -> None:
    """The request id comes from X-Request-Id, X-Correlation-Id or Request-Id, any case."""
    assert status_error(headers={name: "req-9", "Other": "x"}).request_id == "req-9"


def test_request_id_is_none_without_its_header() -> None:
    """No request id header, no request id."""
    assert status_error(headers={"Other": "x"}).request_id is None


def test_status_error_survives_pickling() -> None:
    """An error crosses a process boundary with its class and every attribute."""
    err = status_error()
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), str(copy), copy.__dict__) == (type(err), str(err), err.__dict__)


def test_rate_limit_error_has_no_retry_after_by_default() -> None:
    """``retry_after`` is None until the session reads a Retry-After header."""
    assert status_error(status=429).retry_after is None  # type: ignore[attr-defined]


def response_error(
    api: str = "ica",
    *,
    status: int = 422,
    reason: str = "Unprocessable Entity",
    body: object = None,
    headers: dict[str, str] | None = None,
    key: str | None = None,
    problem: ita.Problem | None = None,
) -> ita.APIStatusError:
    """The error the session raises for an answer."""
    return error_from_response(
        api,  # type: ignore[arg-type]
        status=status,
        reason=reason,
        method="POST",
        url=URL,
        headers=headers or {},
        body=body,
        problem=problem,
        idempotency_key=key,
    )


def test_ica_problem_message_joins_title_detail_and_parameters() -> None:
    """An ICA problem reads '<method> <url> -> <status> <reason>: title - detail - k: v'."""
    body = {"title": "Invalid", "detail": "bad body", "parameters": {"field": "x", "n": 2}}
    err = response_error(body=body)
    assert (
        str(err) == f"POST {URL} -> 422 Unprocessable Entity: Invalid - bad body - field: x, n: 2"
    )


def test_given_problem_is_kept_on_the_error() -> None:
    """The problem the session structured is the error's ``problem``."""
    problem = ita.Problem(
        "about:blank", "Invalid", 422, {}, datetime(2024, 5, 1, 10, tzinfo=UTC), detail="d"
    )
    assert response_error(body={"title": "Invalid"}, problem=problem).problem is problem


def test_odd_problem_body_still_reads_its_title() -> None:
    """A problem body that does not fit the model still gives its title as the message."""
    err = response_error(body={"title": "Invalid", "status": "not a number"})
    assert str(err) == f"POST {URL} -> 422 Unprocessable Entity: Invalid"


def test_problem_with_empty_parameters_adds_nothing() -> None:
    """Empty parameters leave no trailing separator."""
    err = response_error(body={"title": "Invalid", "parameters": {}})
    assert str(err) == f"POST {URL} -> 422 Unprocessable Entity: Invalid"


def test_tapis_message_is_the_envelope_message() -> None:
    """Tapis errors read their envelope's ``message``, never its ``status`` string."""
    body = {"status": "error", "message": "transfer not found", "result": None}
    err = response_error("tapis", status=404, reason="Not Found", body=body)
    assert str(err) == f"POST {URL} -> 404 Not Found: transfer not found"


def test_tapis_body_without_message_falls_back_to_the_reason() -> None:
    """No message: the reason phrase stands alone, not repeated."""
    err = response_error("tapis", status=404, reason="Not Found", body={"status": "error"})
    assert str(err) == f"POST {URL} -> 404 Not Found"


def test_html_body_reads_its_title() -> None:
    """An HTML error page is summed up by its title."""
    body = "<html><head><title>502 Bad Gateway</title></head><body><h1>x</h1></body></html>"
    err = response_error(status=502, reason="Bad Gateway", body=body)
    assert str(err) == f"POST {URL} -> 502 Bad Gateway: 502 Bad Gateway"


def test_text_body_loses_its_tags_and_extra_spaces() -> None:
    """A text body without a title is stripped of tags and runs of spaces."""
    err = response_error(status=500, reason="", body="<p>disk\n  full</p>")
    assert str(err) == f"POST {URL} -> 500 disk full"


def test_long_text_body_is_cut_at_300_characters() -> None:
    """A long body is cut to 299 characters and an ellipsis."""
    err = response_error(status=500, reason="", body="x" * 400)
    assert str(err) == f"POST {URL} -> 500 {'x' * 299}…"


def test_text_body_of_exactly_300_characters_is_kept_whole() -> None:
    """300 characters are not cut."""
    err = response_error(status=500, reason="", body="y" * 300)
    assert str(err) == f"POST {URL} -> 500 {'y' * 300}"


def test_empty_body_and_reason_say_error() -> None:
    """Nothing to say at all still gives a readable line."""
    err = response_error(status=500, reason="", body=None)
    assert str(err) == f"POST {URL} -> 500 error"


def test_set_cookie_is_removed_from_the_error_headers() -> None:
    """A session cookie never travels on an exception."""
    err = response_error(headers={"Set-Cookie": "s=secret", "X-Request-Id": "r-1"})
    assert err.headers == {"X-Request-Id": "r-1"}


@pytest.mark.parametrize(
    ("status", "key", "cls"),
    [
        (409, "k-1", ita.IdempotencyInProgressError),
        (409, None, ita.ConflictError),
        (422, "k-1", ita.IdempotencyConflictError),
        (429, None, ita.RateLimitError),
    ],
)
def test_answers_become_their_class(status: int, key: str | None, cls: type[Exception]) -> None:
    """The session's error builder uses the one mapping, key included."""
    assert type(response_error(status=status, key=key)) is cls


def test_answer_error_carries_the_request() -> None:
    """Method, URL, status, body and key of the failed request are on the error."""
    err = response_error(status=409, key="k-1", body={"title": "Busy"})
    assert (err.method, err.url, err.status, err.body, err.idempotency_key) == (
        "POST",
        URL,
        409,
        {"title": "Busy"},
        "k-1",
    )


@pytest.mark.parametrize(
    ("status", "throttle"),
    [(429, True), (400, False), (403, False), (500, False), (503, False), (200, False)],
)
def test_only_429_is_throttling(status: int, throttle: bool) -> None:
    """429 is the one throttling answer; a 400 or 503 is a refusal or an outage, never a cue
    to slow down (the body is not read: a 400 naming a 'rate limit' field is a bad request)."""
    assert is_throttle(status) is throttle


def test_request_validation_error_text_with_and_without_field() -> None:
    """``field: message`` with a field, the bare message without."""
    texts = (
        str(ita.RequestValidationError("must be positive", field="page_size")),
        str(ita.RequestValidationError("nothing to do")),
    )
    assert texts == ("page_size: must be positive", "nothing to do")


def test_request_validation_error_field_attribute() -> None:
    """The field is kept for programs, None when not given."""
    fields = (
        ita.RequestValidationError("m", field="a.b").field,
        ita.RequestValidationError("m").field,
    )
    assert fields == ("a.b", None)


def test_response_validation_error_text() -> None:
    """``model: path: message`` with a path, ``model: message`` without."""
    texts = (
        str(ita.ResponseValidationError("not a str", path="items[3].id", model="Batch")),
        str(ita.ResponseValidationError("not an object", model="Batch")),
    )
    assert texts == ("Batch: items[3].id: not a str", "Batch: not an object")


def test_waiter_error_text_and_attributes() -> None:
    """A waiter error names what was awaited and why it stopped, and keeps the last value."""
    err = ita.WaiterError("batch b-1", "deadline", last_response={"status": "RUNNING"})
    assert (str(err), err.name, err.reason, err.last_response) == (
        "waiter 'batch b-1' stopped: deadline",
        "batch b-1",
        "deadline",
        {"status": "RUNNING"},
    )


def test_errors_without_request_details_have_empty_method_and_url() -> None:
    """An error raised before any request names no method or URL: empty strings, not None."""
    errors = (
        ita.APIError("m"),
        ita.APIStatusError("m", status=500),
        make_status_error("m", status=500),
        ita.ResponseValidationError("m"),
    )
    assert [(e.method, e.url) for e in errors] == [("", "")] * 4


def test_response_validation_error_keeps_its_request_and_place() -> None:
    """Method, URL, path and model are kept for programs that report them."""
    err = ita.ResponseValidationError(
        "not a str", path="items[0].id", model="Batch", method="GET", url=URL
    )
    assert (err.method, err.url, err.path, err.model) == ("GET", URL, "items[0].id", "Batch")


def test_response_validation_error_defaults() -> None:
    """Without a path or model both are empty strings."""
    err = ita.ResponseValidationError("bad")
    assert (err.path, err.model, str(err)) == ("", "", ": bad")


def test_tapis_text_body_reads_its_title() -> None:
    """A Tapis error page that is not JSON is summed up by its title."""
    body = "<html><title>Gateway Timeout</title></html>"
    err = response_error("tapis", status=504, reason="Gateway Timeout", body=body)
    assert str(err) == f"POST {URL} -> 504 Gateway Timeout"


def test_errors_without_a_problem_have_none() -> None:
    """No problem given, no problem on the error."""
    assert response_error("tapis", body={"title": "Invalid", "status": 422}).problem is None


@pytest.mark.parametrize(
    "err",
    [
        ita.APIConnectionError("refused", method="GET", url=URL, connect_failed=True),
        ita.APITimeoutError("slow", method="GET", url=URL),
        ita.ServerUnreachableError("down", base_url="https://ica.test", method="GET", url=URL),
        ita.ResponseValidationError("bad", path="a", model="M", method="GET", url=URL),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_api_error_survives_pickling(err: ita.APIError) -> None:
    """Errors built from keyword arguments cross a process boundary whole."""
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), str(copy), copy.__dict__) == (type(err), str(err), err.__dict__)


def test_connection_error_says_whether_it_ever_connected() -> None:
    """``connect_failed`` is False unless said, True for an unreachable server."""
    flags = (
        ita.APIConnectionError("reset").connect_failed,
        ita.APIConnectionError("refused", connect_failed=True).connect_failed,
        ita.ServerUnreachableError("down", base_url="https://ica.test").connect_failed,
    )
    assert flags == (False, True, True)


def test_unreachable_error_names_the_server() -> None:
    """The unreachable server's base URL is on the error."""
    err = ita.ServerUnreachableError("down", base_url="https://ica.test")
    assert (err.base_url, str(err)) == ("https://ica.test", "down")


@pytest.mark.parametrize(
    "cls", [ita.APIConnectionError, ita.APITimeoutError], ids=lambda c: c.__name__
)
def test_connection_errors_keep_method_and_url(cls: type[ita.APIConnectionError]) -> None:
    """A transport failure names the request it broke, and defaults to empty strings."""
    given = cls("reset", method="POST", url=URL)
    bare = cls("reset")
    assert [(e.method, e.url) for e in (given, bare)] == [("POST", URL), ("", "")]


def test_unreachable_error_keeps_method_and_url() -> None:
    """The unreachable error names the call refused, and defaults to empty strings."""
    given = ita.ServerUnreachableError("down", base_url="https://h", method="GET", url=URL)
    bare = ita.ServerUnreachableError("down", base_url="https://h")
    assert [(e.method, e.url) for e in (given, bare)] == [("GET", URL), ("", "")]
