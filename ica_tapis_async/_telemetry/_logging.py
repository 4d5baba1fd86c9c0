"""The library's logger tree, a JSON formatter, and the set-up the CLI uses."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any, Final, TextIO

import orjson

from ._otel import load_api
from ._scrub import scrub_text

__all__ = ("LOGGER_NAMES", "JsonFormatter", "ScrubbingFormatter", "configure_logging")

#: The tree: the root, then the parts a user may want to tune on their own.
LOGGER_NAMES: Final = (
    "ica_tapis_async",
    "ica_tapis_async.orchestrator",
    "ica_tapis_async.simulator",
)

# Attributes every LogRecord has: anything else on a record came from ``extra=``.
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None)).keys()
) | {"message", "asctime", "taskName"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    return scrub_text(str(value))


class ScrubbingFormatter(logging.Formatter):
    """A text formatter that appends ``extra`` fields as ``key=value`` and scrubs credentials."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, credentials replaced by ``***``."""
        text = super().format(record)
        extras = _extras(record)
        if extras:
            text += " " + " ".join(f"{k}={_scrub_value(v)}" for k, v in extras.items())
        return scrub_text(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ``extra`` fields, trace ids.

    Credentials are scrubbed from the message, the extras and the exception text. When an
    OpenTelemetry span is current the line carries its ``trace_id`` and ``span_id``, so logs
    and traces join up.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub_text(record.getMessage()),
        }
        for key, value in _extras(record).items():
            entry[key] = _scrub_value(value)
        if record.exc_info:
            entry["exception"] = scrub_text(self.formatException(record.exc_info))
        entry.update(_trace_ids())
        return orjson.dumps(entry).decode()


def _trace_ids() -> dict[str, str]:
    api = load_api()
    if api is None:
        return {}
    context = api[0].get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


def configure_logging(
    level: str | int = "WARNING", fmt: str = "text", stream: TextIO | None = None
) -> logging.Handler:
    """Send the library's log records to ``stream`` (stderr) as text or JSON.

    The handler goes on the ``ica_tapis_async`` logger (not the root), replacing one this
    function put there before, so calling it twice does not double every line.

    Args:
        level: a level name (``"DEBUG"``…``"CRITICAL"``) or number.
        fmt: ``"text"`` or ``"json"``.

    Returns:
        The handler installed.

    Raises:
        ValueError: an unknown level or format.
    """
    if isinstance(level, str):
        number = logging.getLevelName(level.upper())
        if not isinstance(number, int):
            raise ValueError(
                f"unknown log level {level!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL"
            )
        level = number
    formatter: logging.Formatter
    if fmt == "json":
        formatter = JsonFormatter()
    elif fmt == "text":
        formatter = ScrubbingFormatter("%(levelname)s %(name)s: %(message)s")
    else:
        raise ValueError(f"unknown log format {fmt!r}: use 'text' or 'json'")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("ica_tapis_async")
    root = logging.getLogger(LOGGER_NAMES[0])
    for old in [h for h in root.handlers if h.get_name() == "ica_tapis_async"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False  # the application's root handlers would print every line twice
    return handler
