"""Moments written by people (a query's since, until or as-of): ISO 8601 with an offset,
within years a question about the program's records can be about.

``0001-01-01T00:00:00+05:00`` is before the calendar began once taken to UTC, and
``9999-12-31T23:59:59-05:00`` after it ends; each failed as an ``OverflowError`` deep in a
service. Beyond these bounds the date arithmetic that follows (an offset, a look-back of
months, the next day) stays inside the calendar.
"""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)  # exclusive: the last moment of 2999 is fine


def parse_moment(text: str) -> datetime:
    """``text`` as an aware datetime; ``ValueError`` saying what to write instead."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValueError("give a time with its offset, e.g. 2026-11-22T09:00:00-05:00.")
    try:
        in_range = EARLIEST <= parsed.astimezone(UTC) < LATEST
    except OverflowError:
        in_range = False
    if not in_range:
        raise ValueError("give a time from the year 1900 to 2999.")
    return parsed
