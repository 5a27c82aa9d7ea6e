"""The investigators' user activity page: everything one account did, and was done to it,
in a period, as the audit trail holds it (the JSON lines download has the same entries)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from nameko.exceptions import RemoteError
from werkzeug.wrappers import Request, Response

from gateway.api.audit import AuditApi
from gateway.http import http
from services.identity.roles import Permission

DETAIL_LENGTH = 160


class AuditPages(AuditApi):
    """Mixin of the gateway service (see ``gateway/service.py``); the API comes with it."""

    @http("GET", "/audit/activity")
    def user_activity_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.AUDIT_READ)
        zone = self.settings.timezone
        account = (request.args.get("account") or "").strip()
        first, last = request.args.get("from") or "", request.args.get("to") or ""
        status, error, entries = 200, None, []
        window: dict[str, str | None] = {}
        try:
            window = _window(first, last, zone)
            if account:
                entries = self._activity(str(_account(account)), window)
        except ValueError as exc:
            status, error = 422, str(exc)
        except RemoteError as exc:
            if exc.exc_type != "HistoryRefused":
                raise
            status, error = 422, str(exc.value)
        download = ""
        if account and not error:
            chosen = urlencode({k: v for k, v in window.items() if v})
            download = f"/api/audit/users/{account}/activity.jsonl?{chosen}"
        return self.auth.page(
            request, "audit_activity.html", principal, status=status, title="User activity",
            active="audit", account=account, first=first, last=last, error=error,
            rows=[_row(entry, zone) for entry in entries], download=download,
        )  # fmt: skip

    def _activity(self, account_id: str, window: dict[str, str | None]) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        page = 1
        while True:
            found = self.services.call(
                "audit", "history", self.settings.rpc_timeout, user=account_id,
                order="oldest", page=page, page_size=500, **window,
            )  # fmt: skip
            entries += found["entries"]
            if page * 500 >= found["total"]:
                return entries
            page += 1


def _account(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ValueError("Account: give the account's id, as the Users page shows it.") from None


def _window(first: str, last: str, zone: ZoneInfo) -> dict[str, str | None]:
    """The days chosen, in the program's time zone, as the history's since/until."""
    try:
        since = datetime.combine(date.fromisoformat(first), time(), zone) if first else None
        until = (
            datetime.combine(date.fromisoformat(last) + timedelta(days=1), time(), zone)
            if last
            else None
        )
    except ValueError:
        raise ValueError("From and To: give dates as YYYY-MM-DD.") from None
    if since and until and since >= until:
        raise ValueError("From: the first day comes after the last.")
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }


def _row(entry: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    meta = entry.get("metadata") or {}
    when = datetime.fromisoformat(meta["occurred_at"]).astimezone(zone)
    return {
        "n": entry["n"],
        "when": when.strftime("%Y-%m-%d %H:%M:%S"),
        "service": entry["source"],
        "event": entry["type"],
        "by": meta.get("actor_id") or "the system",
        "detail": _detail(entry.get("data") or {}),
    }


def _detail(data: dict[str, Any]) -> str:
    """The event's own facts in one line: what was searched, which account, ..."""
    parts = []
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items() if v not in (None, "", [], {}))
        elif isinstance(value, list):
            value = f"{len(value)} item{'s' if len(value) != 1 else ''}"
        if value not in (None, ""):
            parts.append(f"{key.replace('_', ' ')}: {value}")
    text = "; ".join(parts)
    return text if len(text) <= DETAIL_LENGTH else text[: DETAIL_LENGTH - 1] + "…"
