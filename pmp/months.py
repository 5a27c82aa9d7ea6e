"""Calendar months: a look-back of N months, a snooze of N months."""

from __future__ import annotations

import calendar
from datetime import date


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (earlier when negative); the month's last day when it
    is shorter (January 31 plus one month is February 28 or 29)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))
