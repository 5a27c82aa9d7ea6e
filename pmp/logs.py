"""structlog set-up: JSON lines on stdout, one ``correlation_id`` per request.

The correlation id lives in a context variable (each nameko worker greenlet has its own
context), so every line a worker writes, its own or a library's through stdlib logging,
carries the id of the request or event that woke it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog

# Keys that would carry patient or applicant identity. A log line never needs them: an event
# id, a stream id or a count says what happened without saying to whom.
REDACTED_KEYS = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        "patient_name",
        "date_of_birth",
        "dob",
        "birth_date",
        "address",
        "street",
        "zip",
        "phone",
        "password",
        "temporary_password",
        "token",
        "ssn",
    }
)


def redact_personal_fields(_logger: Any, _method: str, event_dict: MutableMapping) -> Any:
    """Replace the value of any key that would identify a person or grant access."""
    for key in REDACTED_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(service: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send structlog and stdlib logging to ``stream`` as JSON lines tagged with ``service``."""

    def add_service(_logger: Any, _method: str, event_dict: MutableMapping) -> Any:
        event_dict.setdefault("service", service)
        return event_dict

    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_service,
        redact_personal_fields,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # kombu and amqp narrate every heartbeat at DEBUG; keep them at INFO or above.
    for noisy in ("amqp", "kombu"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))


def bind_correlation(correlation_id: str | None, **extra: Any) -> None:
    """Tag every later log line of this greenlet or thread with ``correlation_id``."""
    structlog.contextvars.clear_contextvars()
    if correlation_id:
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id, **extra)


@contextmanager
def correlation(correlation_id: str | None, **extra: Any) -> Iterator[None]:
    """Bind ``correlation_id`` for the block and restore the previous binding after it."""
    previous = structlog.contextvars.get_contextvars()
    bind_correlation(correlation_id, **extra)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**previous)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
