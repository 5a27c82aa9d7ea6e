"""The user activity report: what one account did in a period, and what was done to its
account and registration, one line per event, oldest first, as the investigators' page and
PDF show it. The JSON lines download gives the same entries whole.

Times are in the program's time zone; each line names the service, the event and who acted,
and the event's own facts in a sentence (what was searched, which report, what changed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from pmp.report_pdf import table_pdf
from services.audit.history import MAX_PAGE_SIZE, history

COLUMNS = ("#", "When", "Service", "Event", "By", "Details")
WIDTHS = (0.35, 1.25, 0.7, 1.5, 2.2, 4.0)  # proportions across the landscape page
DETAIL_LENGTH = 240


def activity_entries(
    conn: Connection, user: str, since: str | None = None, until: str | None = None
) -> list[dict[str, Any]]:
    """Every entry of ``user``'s report, oldest first (the history, page after page)."""
    entries: list[dict[str, Any]] = []
    page = 1
    while True:
        found = history(
            conn, user=user, since=since, until=until, order="oldest",
            page=page, page_size=MAX_PAGE_SIZE,
        )  # fmt: skip
        entries += found["entries"]
        if page * MAX_PAGE_SIZE >= found["total"]:
            return entries
        page += 1


def activity_rows(entries: list[dict[str, Any]], zone: ZoneInfo) -> list[dict[str, Any]]:
    """The report's lines, as the page and the PDF show them."""
    return [_row(entry, zone) for entry in entries]


def activity_pdf(
    account: str, period: str, rows: list[dict[str, Any]], requester: dict[str, Any], **when: str
) -> bytes:
    """``when``: generated_at (ISO) and timezone (its key)."""
    document = {
        "title": "User activity report",
        "requester": requester,
        "columns": COLUMNS,
        "rows": [[r["n"], r["when"], r["service"], r["event"], r["by"], r["detail"]] for r in rows],
        **when,
    }
    lines = [f"Account: {account}", f"Period: {period}", f"Events: {len(rows)}, oldest first."]
    nothing = "Nothing was recorded for this account in this period."
    return table_pdf(document, lines, nothing, WIDTHS)


def _row(entry: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    meta = entry.get("metadata") or {}
    when = datetime.fromisoformat(meta["occurred_at"]).astimezone(zone)
    return {
        "n": entry["n"],
        "when": when.strftime("%Y-%m-%d %H:%M:%S"),
        "service": entry["source"],
        "event": entry["type"],
        "by": _by(meta, entry.get("data") or {}),
        "detail": _detail(entry.get("data") or {}),
    }


def _by(meta: dict[str, Any], data: dict[str, Any]) -> str:
    """Who acted: by name where the event names them (searches, reports and card
    verifications do)."""
    actor = meta.get("actor_id")
    if not actor:
        return "the system"
    requester = data.get("requester") or data.get("officer")
    if isinstance(requester, dict) and requester.get("account_id") == actor:
        return f"{requester.get('name')} ({requester.get('role')}), {actor}"
    return actor


def _detail(data: dict[str, Any]) -> str:
    """The event's own facts in one line: what was searched, which account, ..."""
    parts = []
    for key, value in data.items():
        if key == "requester":  # the By column names them
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items() if v not in (None, "", [], {}))
        elif isinstance(value, list):
            value = f"{len(value)} item{'s' if len(value) != 1 else ''}"
        if value not in (None, ""):
            parts.append(f"{key.replace('_', ' ')}: {value}")
    text = "; ".join(parts)
    return text if len(text) <= DETAIL_LENGTH else text[: DETAIL_LENGTH - 1] + "…"
