"""The investigators' user activity page: everything one account did, and was done to it,
in a period, as the audit trail holds it (the JSON lines download has the same entries)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from nameko.exceptions import RemoteError
from werkzeug.wrappers import Request, Response

from gateway.api.audit import AuditApi
from gateway.http import http
from gateway.problems import Problem
from services.identity.roles import Permission


class AuditPages(AuditApi):
    """Mixin of the gateway service (see ``gateway/service.py``); the API comes with it."""

    @http("GET", "/audit/activity")
    def user_activity_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.AUDIT_READ)
        account, first, last = _asked(request)
        status, error, rows, query = 200, None, [], ""
        try:
            window = _window(first, last, self.settings.timezone)
            if account:
                user = str(account_id_from(account))
                rows = self.services.call(
                    "audit", "user_activity", self.settings.rpc_timeout, user=user, **window
                )["rows"]
                query = urlencode({"account": user, "from": first, "to": last})
        except ValueError as exc:
            status, error = 422, str(exc)
        except RemoteError as exc:
            if exc.exc_type != "HistoryRefused":
                raise
            status, error = 422, str(exc.value)
        return self.auth.page(
            request, "audit_activity.html", principal, status=status, title="User activity",
            active="audit", account=account, first=first, last=last, error=error, rows=rows,
            query=query,
        )  # fmt: skip

    @http("GET", "/audit/activity.jsonl")
    def user_activity_jsonl_page(self, request: Request) -> Response:
        self.auth.require(request, self.services, Permission.AUDIT_READ)
        account, window, _ = self._chosen(request)
        return self._activity_jsonl(account, window)

    @http("GET", "/audit/activity.pdf")
    def user_activity_pdf_page(self, request: Request) -> Response:
        self.auth.require(request, self.services, Permission.AUDIT_READ)
        account, window, period = self._chosen(request)
        return self._activity_pdf(account, window, period)

    def _chosen(self, request: Request) -> tuple[str, dict[str, str | None], str]:
        """The account and days a download asks for; refused (422) as the page refuses."""
        account, first, last = _asked(request)
        try:
            window = _window(first, last, self.settings.timezone)
            user = str(account_id_from(account))
        except ValueError as exc:
            raise Problem(422, "The user activity report was refused", str(exc)) from None
        return user, window, f"{first or 'the start'} to {last or 'today'}"


def _asked(request: Request) -> tuple[str, str, str]:
    account = (request.args.get("account") or "").strip()
    return account, request.args.get("from") or "", request.args.get("to") or ""


def account_id_from(text: str) -> uuid.UUID:
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
    except (ValueError, OverflowError):  # 9999-12-31 has no next day
        raise ValueError("From and To: give dates as YYYY-MM-DD.") from None
    if since and until and since >= until:
        raise ValueError("From: the first day comes after the last.")
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
