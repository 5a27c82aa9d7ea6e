"""The administrators' monthly help-desk report: tickets opened in a month, by category,
with the median time to first response and to resolution.

Times are measured as the targets count them: support hours for High, Medium and Low,
every hour for Critical. Tickets never categorised are counted on a row of their own,
measured in support hours.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from pmp.csv_files import csv_text
from services.helpdesk.business_hours import CATEGORIES, LOW, SupportCalendar
from services.helpdesk.policy import CATEGORY_TITLES, HelpdeskPolicy

UNCATEGORISED = "uncategorised"
ROW_TITLES = {**CATEGORY_TITLES, UNCATEGORISED: "Not yet categorised"}


@dataclass(frozen=True)
class Opened:
    """What the report needs of one ticket."""

    category: str | None
    opened_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None


def month_bounds(month: str, calendar: SupportCalendar) -> tuple[datetime, datetime]:
    """The month ``YYYY-MM`` as aware moments in the program's zone: [first day, next)."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValueError(f"month: give a month as YYYY-MM, not {month!r}.") from None
    following = (first + timedelta(days=32)).replace(day=1)
    zone = calendar.timezone
    return (
        datetime.combine(first, time(0), tzinfo=zone),
        datetime.combine(following, time(0), tzinfo=zone),
    )


def monthly_report(
    month: str,
    tickets: Iterable[Opened],
    calendar: SupportCalendar,
    policy: HelpdeskPolicy,
) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
    for key in (*CATEGORIES, UNCATEGORISED):
        rows[key] = {"responses": [], "resolutions": [], "count": 0, "past_target": 0}
    for t in tickets:
        key = t.category or UNCATEGORISED
        measure = t.category or LOW  # support hours for a ticket without a category
        row = rows[key]
        row["count"] += 1
        if t.first_response_at is not None:
            row["responses"].append(calendar.age(t.opened_at, t.first_response_at, measure))
        if t.resolved_at is not None:
            row["resolutions"].append(calendar.age(t.opened_at, t.resolved_at, measure))
        if t.category is not None and t.first_response_at is not None:
            due = calendar.deadline(t.opened_at, policy.target(t.category), t.category)
            row["past_target"] += t.first_response_at > due
    lines = []
    for key, row in rows.items():
        lines.append(
            {
                "category": key,
                "title": ROW_TITLES[key],
                "counts": "every hour" if key == "critical" else "support hours",
                "opened": row["count"],
                "responded": len(row["responses"]),
                "median_first_response_hours": _median_hours(row["responses"]),
                "resolved": len(row["resolutions"]),
                "median_resolution_hours": _median_hours(row["resolutions"]),
                "responded_late": row["past_target"],
                "target_hours": policy.target_hours.get(key),
            }
        )
    return {
        "month": month,
        "total": sum(r["opened"] for r in lines),
        "rows": lines,
    }


def _median_hours(spans: list[timedelta]) -> float | None:
    if not spans:
        return None
    return round(statistics.median(s.total_seconds() for s in spans) / 3600, 2)


CSV_COLUMNS = (
    ("month", "Month"),
    ("title", "Category"),
    ("counts", "Hours counted"),
    ("target_hours", "Response target (hours)"),
    ("opened", "Opened"),
    ("responded", "Responded"),
    ("responded_late", "Responded after target"),
    ("median_first_response_hours", "Median hours to first response"),
    ("resolved", "Resolved"),
    ("median_resolution_hours", "Median hours to resolution"),
)


def report_csv(report: dict[str, Any]) -> str:
    """The report as the administrators download it (cells made safe by ``pmp.csv_files``)."""
    rows = ({**row, "month": report["month"]} for row in report["rows"])
    return csv_text(
        [title for _, title in CSV_COLUMNS], ([r[k] for k, _ in CSV_COLUMNS] for r in rows)
    )
