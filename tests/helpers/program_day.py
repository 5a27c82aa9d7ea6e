"""The program's calendar day. Reports, alerts and look-backs count days in PMP_TIMEZONE, so a
test that writes fill dates or checks a report's dates must use that zone's today, not the
test machine's (they differ for hours each night: CI runs in UTC)."""

from __future__ import annotations

from datetime import date, datetime

from pmp.config import load_settings


def program_today() -> date:
    """Today in the program's time zone, as the services see it."""
    return datetime.now(load_settings().timezone).date()
