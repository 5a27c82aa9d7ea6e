"""The administrators' statistical report: reports requested per individual, role, day or
month, from the query service's own ``PatientReportViewed`` events.

One row per report viewed, with the day and month in the program's time zone, so every
grouping is one GROUP BY; the table is sorted by any of its columns.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.config import load_settings
from pmp.db import UtcDateTime
from pmp.envelope import RecordedEvent
from pmp.projector import Projection
from services.identity.roles import Role

metadata = sa.MetaData()

report_views = sa.Table(
    "report_views",
    metadata,
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("viewed_at", UtcDateTime(), nullable=False),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("account_id", sa.String(36), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("format", sa.String(12), nullable=False),
)

_NEW_VIEW = report_views.insert()  # built once: one row per report viewed


class ReportStatistics(Projection):
    """Every report viewed, as the statistical report counts it."""

    name = "query.report_statistics"
    sources = ("query",)
    metadata = metadata
    types = {"query": frozenset({"PatientReportViewed"})}

    def __init__(self) -> None:
        self.timezone = load_settings().timezone

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        local = event.metadata.occurred_at.astimezone(self.timezone)
        requester = event.data["requester"]
        conn.execute(
            _NEW_VIEW,
            {
                "event_id": uuid.UUID(str(event.event_id)),
                "viewed_at": event.metadata.occurred_at,
                "day": local.date(),
                "month": f"{local:%Y-%m}",
                "account_id": requester["account_id"],
                "name": requester["name"][:120],
                "role": requester["role"],
                "format": event.data["format"],
            },
        )


class StatisticsRefused(ValueError):
    """A grouping, sort column or date the report does not have; the message names it."""


@dataclass(frozen=True)
class Grouping:
    columns: tuple[str, ...]  # as shown; the first ones are the group's keys
    keys: tuple[str, ...]  # report_views columns grouped by


GROUPINGS = {
    "individual": Grouping(("Name", "Role", "Reports"), ("account_id", "name", "role")),
    "role": Grouping(("Role", "Users", "Reports"), ("role",)),
    "day": Grouping(("Day", "Users", "Reports"), ("day",)),
    "month": Grouping(("Month", "Users", "Reports"), ("month",)),
}


def table(
    conn: Connection,
    group: str = "individual",
    sort: str = "Reports",
    descending: bool = True,
    first: date | None = None,
    last: date | None = None,
) -> dict[str, Any]:
    """The report grouped by ``group``, sorted by the column named ``sort`` (any case)."""
    grouping = GROUPINGS.get(group)
    if grouping is None:
        raise StatisticsRefused(f"group: choose one of {', '.join(GROUPINGS)}.")
    sort = next((c for c in grouping.columns if c.lower() == str(sort).lower()), "")
    if not sort:
        raise StatisticsRefused(f"sort: choose one of {', '.join(grouping.columns)}.")
    if first and last and first > last:
        raise StatisticsRefused("from: the first day comes after the last.")
    c = report_views.c
    keys = [c[k] for k in grouping.keys]
    reports = sa.func.count().label("Reports")
    users = sa.func.count(sa.distinct(c.account_id)).label("Users")
    query = sa.select(*keys, users, reports).group_by(*keys)
    if first:
        query = query.where(c.day >= first)
    if last:
        query = query.where(c.day <= last)
    shown = {column: i for i, column in enumerate(grouping.columns)}
    rows = [_row(group, r) for r in conn.execute(query)]
    rows.sort(key=lambda row: (_sortable(row[shown[sort]]), row[0]), reverse=descending)
    return {
        "group": group,
        "columns": list(grouping.columns),
        "rows": rows,
        "sort": sort,
        "descending": descending,
        "period": _period(first, last),
    }


def _row(group: str, r: Any) -> list[Any]:
    if group == "individual":
        return [r.name, _title(r.role), r.Reports]
    key = r[0]
    shown = _title(key) if group == "role" else key.isoformat() if group == "day" else key
    return [shown, r.Users, r.Reports]


def _title(role: str) -> str:
    try:
        return Role(role).title
    except ValueError:
        return role


def _sortable(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _period(first: date | None, last: date | None) -> str:
    if not first and not last:
        return "all time"
    since = first.isoformat() if first else "the start"
    return f"{since} to {last.isoformat() if last else 'today'}"
