"""The logger tree, the JSON formatter and the scrubbing text formatter."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from ica_tapis_async._telemetry import JsonFormatter, configure_logging
from ica_tapis_async._telemetry._logging import LOGGER_NAMES

from .helpers import Otel

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlX2J5dGVz"


@pytest.fixture
def restore_logger() -> Iterator[None]:
    """Put the package logger back as the test found it."""
    root = logging.getLogger("ica_tapis_async")
    saved = (list(root.handlers), root.level, root.propagate)
    yield
    root.handlers[:], root.level, root.propagate = saved[0], saved[1], saved[2]


def test_json_lines_carry_extras_and_no_secret(restore_logger: None) -> None:
    """A JSON line has level, logger, message and the extra fields; credentials are scrubbed."""
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    log = logging.getLogger("ica_tapis_async.orchestrator")
    log.info(
        "chunk %d submitted with token %s",
        3,
        JWT,
        extra={"run_id": "r-1", "batch_id": "b-9", "journal": "postgresql://u:pw-1@db/j"},
    )
    log.debug("not shown at INFO")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    entry = orjson.loads(lines[0])
    assert entry["level"] == "INFO"
    assert entry["logger"] == "ica_tapis_async.orchestrator"
    assert entry["message"] == "chunk 3 submitted with token ***"
    assert (entry["run_id"], entry["batch_id"]) == ("r-1", "b-9")
    assert entry["journal"] == "postgresql://***@db/j"
    assert entry["ts"].endswith("+00:00")
    assert JWT not in lines[0]
    assert "pw-1" not in lines[0]


def test_json_lines_carry_the_current_trace(otel: Otel) -> None:
    """Inside a span, a JSON line names its trace and span, so logs join traces."""
    record = logging.LogRecord("ica_tapis_async", logging.INFO, "f", 1, "hello", None, None)
    with otel.tracer_provider.get_tracer("t").start_as_current_span("s") as span:
        entry = orjson.loads(JsonFormatter().format(record))
    context = span.get_span_context()
    assert entry["trace_id"] == f"{context.trace_id:032x}"
    assert entry["span_id"] == f"{context.span_id:016x}"
    assert "trace_id" not in orjson.loads(JsonFormatter().format(record))


def test_json_exception_text_is_scrubbed(restore_logger: None) -> None:
    """A logged exception keeps its type and loses its credentials."""
    stream = io.StringIO()
    configure_logging("ERROR", "json", stream)
    try:
        raise RuntimeError(f"cannot reach redis://:sekrit@cache:6379 with {JWT}")
    except RuntimeError:
        logging.getLogger("ica_tapis_async").exception("failed")
    entry = orjson.loads(stream.getvalue())
    assert "RuntimeError" in entry["exception"]
    assert "sekrit" not in stream.getvalue()
    assert JWT not in stream.getvalue()


def test_text_format_appends_extras_scrubbed(restore_logger: None) -> None:
    """Text lines keep the classic shape and add key=value extras, scrubbed."""
    stream = io.StringIO()
    configure_logging("debug", "text", stream)
    configure_logging("DEBUG", "text", stream)  # twice: still one handler
    logging.getLogger("ica_tapis_async.simulator").warning(
        "slow", extra={"url": "http://a:b@h/x", "attempt": 2}
    )
    assert stream.getvalue() == (
        "WARNING ica_tapis_async.simulator: slow url=http://***@h/x attempt=2\n"
    )


def test_logger_tree_shares_one_root() -> None:
    """The orchestrator and simulator loggers are children of the package logger."""
    root, *children = (logging.getLogger(name) for name in LOGGER_NAMES)
    assert all(child.parent is root for child in children)


@pytest.mark.parametrize(
    ("level", "fmt", "message"),
    [("LOUD", "text", "unknown log level 'LOUD'"), ("INFO", "xml", "unknown log format 'xml'")],
)
def test_configure_logging_rejects_bad_input(level: str, fmt: str, message: str) -> None:
    """An unknown level or format is a ValueError that names it."""
    with pytest.raises(ValueError, match=message):
        configure_logging(level, fmt)
