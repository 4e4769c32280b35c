"""Structured JSON logs with the request id on every line, and no personal data in them.

What keeps health data out of the logs:
- the access line carries the path but never the query string or the body;
- `PrivacyFilter` strips the request object Django attaches to its error records;
- exceptions are logged as their type and stack frames, never their message or local variables:
  database errors and validation messages quote the values that failed (names, emails, identifiers).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import structlog

_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def safe_exception(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Replace exc_info by the exception's type and frames; its message may quote personal data."""
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        import sys

        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if exc_info and exc_info[0] is not None:
        exc_type, _exc, tb = exc_info
        event["exception_type"] = f"{exc_type.__module__}.{exc_type.__qualname__}"
        event["stack"] = [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(tb)][-15:]
    return event


def _stack_as_text(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """The console renderer prints `stack` as text (it fails on a list, and logging then prints the
    original traceback, message included, to stderr)."""
    if isinstance(event.get("stack"), list):
        event["stack"] = "\n".join(event["stack"])
    return event


def formatter(fmt: str = "json") -> logging.Formatter:
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False) if fmt == "console" else structlog.processors.JSONRenderer()
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED_PROCESSORS, structlog.stdlib.ExtraAdder(allow=["status_code"])],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            safe_exception,
            *([_stack_as_text] if fmt == "console" else []),
            renderer,
        ],
    )


class PrivacyFilter(logging.Filter):
    """Drops the attributes through which a request (its GET/POST data, cookies) could reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        for attr in ("request", "args_repr"):
            if hasattr(record, attr):
                delattr(record, attr)
        return True


def configure() -> None:
    """Route structlog through the standard logging handlers configured in settings.LOGGING."""
    structlog.configure(
        processors=[
            *_SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
