"""A Patient History Report rebuilt for an investigator: as it stood at a chosen moment, or
exactly as a user saw it, from the trail's entry recording that they viewed it.

Either way the document is the live report's (``services/query/documents.py``), titled with
the moment it was rebuilt for, and headed with the investigator who asked for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.pdf import long_datetime
from services.audit.as_of import report_as_of
from services.audit.history import HistoryRefused
from services.audit.trail import entries
from services.identity.roles import Role

VIEWED = "PatientReportViewed"


def viewing(conn: Connection, n: int) -> dict[str, Any]:
    """What the trail's entry ``n`` says a user viewed: whose report, how far back, when,
    by whom and why. Refused unless ``n`` records a report viewed."""
    body = conn.scalar(sa.select(entries.c.body).where(entries.c.n == n))
    event = orjson.loads(body) if body else None
    if event is None or event["type"] != VIEWED:
        raise HistoryRefused(f"entry: {n} is not an entry of a patient report viewed.")
    data = event["data"]
    return {
        "at": datetime.fromisoformat(event["metadata"]["occurred_at"]),
        "person_ids": data["person_ids"],
        "months": data["months"],
        "requester": data["requester"],
        "on_behalf_of": data.get("on_behalf_of"),
        "purpose": (data.get("purpose") or {}).get("text", ""),
    }


def report_as_seen(
    conn: Connection, n: int, zone: ZoneInfo, investigator: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The report the viewing in entry ``n`` showed, with that user's own snoozes."""
    seen = viewing(conn, n)
    content = report_as_of(
        conn, seen["person_ids"], seen["requester"]["account_id"], seen["at"],
        seen["at"].astimezone(zone).date(), seen["months"],
    )  # fmt: skip
    who = seen["requester"]
    purpose = (
        f"{seen['purpose']}; seen by {who['name']}, {_title(who['role'])}, "
        f"on {long_datetime(seen['at'], zone)}"
    )
    behalf = seen["on_behalf_of"]
    if behalf:
        purpose += f", on behalf of {behalf['name']}, {_title(behalf['role'])}"
    return _document(content, seen["at"], zone, investigator, now, purpose, entry=n, seen_by=who)


def report_at(
    conn: Connection, person_ids: list[str], at: datetime, months: int, zone: ZoneInfo,
    investigator: dict[str, Any], now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """The persons' report as it stood at ``at``, snoozes left out (they are one user's)."""
    content = report_as_of(conn, person_ids, "", at, at.astimezone(zone).date(), months)
    purpose = "rebuilt from the audit trail for an investigation"
    return _document(content, at, zone, investigator, now, purpose, purpose_label="Why")


def _document(
    content: dict[str, Any], at: datetime, zone: ZoneInfo, investigator: dict[str, Any],
    now: datetime, purpose: str, **seen: Any,
) -> dict[str, Any]:  # fmt: skip
    return {
        "title": f"Patient History Report as of {long_datetime(at, zone)}",
        "as_of": at.isoformat(),
        "generated_at": now.isoformat(),
        "timezone": zone.key,
        "requester": investigator,
        "on_behalf_of": None,
        "purpose": purpose,
        **seen,
        **content,
    }


def _title(role: str) -> str:
    try:
        return Role(role).title
    except ValueError:
        return role
