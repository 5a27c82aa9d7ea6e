"""The investigators' "as of" page: a user's registration as it stood at a past moment, and
a patient's report as it stood then (a PDF), rebuilt from the audit trail. The user activity
page links each report viewed to the same report as its viewer saw it."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from nameko.exceptions import RemoteError
from werkzeug.wrappers import Request, Response

from gateway.api.as_of import AsOfApi, report_request
from gateway.http import http
from gateway.pages.audit import account_id_from
from gateway.pages.registration import size_text, times
from pmp.pdf import long_datetime
from services.identity.roles import Permission
from services.registration import forms

PAGE_REFUSALS = ("HistoryRefused", "LookBackRefused")


class AsOfPages(AsOfApi):
    """Mixin of the gateway service (see ``gateway/service.py``); the API comes with it."""

    @http("GET", "/audit/as-of")
    def as_of_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.AUDIT_READ)
        asked = {key: (request.args.get(key) or "").strip() for key in FIELDS}
        status, error, shown = 200, None, {}
        try:
            if asked["account"]:
                shown = self._registration_as_of(asked)
            elif asked["person"]:
                shown = {"report_link": report_link(asked, self.settings.timezone)}
        except ValueError as exc:
            status, error = 422, str(exc)
        except RemoteError as exc:
            if exc.exc_type not in PAGE_REFUSALS:
                raise
            status, error = 422, str(exc.value)
        return self.auth.page(
            request, "audit_as_of.html", principal, status=status, title="As of",
            active="as-of", asked=asked, error=error, **shown,
        )  # fmt: skip

    @http("GET", "/audit/as-of/report.pdf")
    def report_as_of_pdf_page(self, request: Request) -> Response:
        self.auth.require(request, self.services, Permission.AUDIT_READ)
        return self._rebuilt_pdf("report_as_of", report_request(request), "as of")

    @http("GET", "/audit/entries/<int:entry>/as-seen.pdf")
    def report_as_seen_pdf_page(self, request: Request, entry: int) -> Response:
        self.auth.require(request, self.services, Permission.AUDIT_READ)
        return self._rebuilt_pdf("report_as_seen", {"entry": entry}, f"entry {entry}")

    def _registration_as_of(self, asked: dict[str, str]) -> dict[str, Any]:
        account = str(account_id_from(asked["account"]))
        at = moment(asked["day"], asked["time"], self.settings.timezone)
        found = self.services.call(
            "audit", "registration_as_of", self.settings.rpc_timeout, account_id=account, at=at
        )
        view = found["registration"]
        if view is None:
            return {"registration": None, "searched": True}
        specs = forms.fields_for(view["role"])
        known = {spec.name for spec in specs}
        extra = [(name, value) for name, value in view["form"].items() if name not in known]
        for document in view["documents"]:
            document["size_text"] = size_text(document["size"])
        as_of_text = long_datetime(datetime.fromisoformat(at), self.settings.timezone)
        return {"registration": times(view), "specs": specs, "extra": extra, "searched": True,
                "as_of_text": as_of_text}  # fmt: skip


FIELDS = ("account", "person", "day", "time", "months")


def report_link(asked: dict[str, str], zone: ZoneInfo) -> str:
    """Where the PDF of the patient's report as of the chosen moment is downloaded."""
    try:
        person = str(uuid.UUID(asked["person"]))
    except ValueError:
        raise ValueError("Patient: give the person id, as the audit history shows it.") from None
    months = asked["months"] or "12"
    if months not in {str(n) for n in range(1, 37)}:
        raise ValueError("Look-back: 1 to 36 months.")
    at = moment(asked["day"], asked["time"], zone)
    return "/audit/as-of/report.pdf?" + urlencode({"person_id": person, "at": at, "months": months})


def moment(day: str, clock: str, zone: ZoneInfo) -> str:
    """The day and time chosen, in the program's time zone, with its offset."""
    try:
        chosen = datetime.combine(
            date.fromisoformat(day), time.fromisoformat(clock) if clock else time(23, 59, 59), zone
        )
    except ValueError:
        raise ValueError("As of: give a date (YYYY-MM-DD) and, if you wish, a time.") from None
    return chosen.isoformat()
