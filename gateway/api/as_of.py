""" "As of" replay in the JSON API: a registration or a patient's report rebuilt from the
audit trail at a past moment, or the report a user viewed as they saw it (see
``services/audit/as_of.py`` and ``as_seen.py``)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.api.audit import audit_answer
from gateway.api.registration import problem_response
from gateway.http import http
from gateway.parameters import moment, refused, whole_number
from gateway.responses import download
from services.identity.roles import Permission

_AT = """
            - in: query
              name: at
              required: true
              description: The moment to rebuild, with its offset (2026-11-02T15:00:00-05:00).
              schema:
                type: string
                format: date-time"""
_REPORT = (
    """
            - in: query
              name: person_id
              required: true
              description: A patient's person id; repeat it to combine records.
              schema:
                type: array
                items:
                  type: string
                  format: uuid
              explode: true"""
    + _AT
    + """
            - in: query
              name: months
              description: The look-back, 1 to 36 months.
              schema:
                type: integer
                minimum: 1
                maximum: 36
                default: 12"""
)
_ENTRY = """
            - in: path
              name: entry
              required: true
              description: The audit trail entry (`n`) recording the report viewed.
              schema:
                type: integer"""
_PDF = """
              content:
                application/pdf:
                  schema:
                    type: string
                    format: binary"""
_DOCUMENTED = {
    "at": _AT,
    "report": _REPORT,
    "entry": _ENTRY,
    "pdf": _PDF,
    "refused": problem_response("What cannot be rebuilt; the field is named."),
}
_RECORDED = "Each report rebuilt is recorded (`ReportRebuilt`), under the patients it shows."


def report_request(request: Request) -> dict[str, Any]:
    """The persons, moment and look-back a rebuilt report asks for."""
    return {
        "person_ids": request.args.getlist("person_id"),
        "at": required_moment(request),
        "months": whole_number(request, "months", 12, minimum=1, maximum=36),
    }


def required_moment(request: Request) -> str:
    """The moment to rebuild (``at``): it must be given."""
    at = moment(request, "at")
    if at is None:
        raise refused("at", "give the moment to rebuild, e.g. 2026-11-02T15:00:00-05:00.")
    return at


class AsOfApi:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    @http("GET", "/api/audit/as-of/registrations/<uuid:account_id>")
    def api_registration_as_of(self, request: Request, account_id: uuid.UUID) -> Response:
        """A user's registration as it stood at a past moment.
        ---
        get:
          summary: The application as the program saw it then (status, form, documents)
          description: >
            Needs the permission `audit.read`. Rebuilt from the audit trail's copies of the
            registration's events up to `at`; `registration` is null if none had begun.
          security:
            - sessionToken: []
          parameters:
            - in: path
              name: account_id
              required: true
              schema:
                type: string
                format: uuid{at}
          responses:
            200:
              description: The registration, never cached.
              content:
                application/json:
                  schema:
                    type: object
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.AUDIT_READ)
        asked = {"account_id": str(account_id), "at": required_moment(request)}
        return audit_answer(self, "registration_as_of", **asked)

    @http("GET", "/api/audit/as-of/report")
    def api_report_as_of(self, request: Request) -> Response:
        """A patient's report as it stood at a past moment.
        ---
        get:
          summary: The Patient History Report rebuilt as of a moment (JSON)
          description: >
            Needs the permission `audit.read`. The dispensations, patient index decisions
            and alerts recorded up to `at`, read as the live report reads them; nothing
            after `at` shows. {recorded}
          security:
            - sessionToken: []
          parameters:{report}
          responses:
            200:
              description: The report's content, never cached.
              content:
                application/json:
                  schema:
                    type: object
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.AUDIT_READ)
        return audit_answer(self, "report_as_of", **report_request(request))

    @http("GET", "/api/audit/as-of/report.pdf")
    def api_report_as_of_pdf(self, request: Request) -> Response:
        """A patient's report as it stood at a past moment, as a PDF.
        ---
        get:
          summary: The Patient History Report rebuilt as of a moment (PDF)
          description: >
            Needs the permission `audit.read`. The live report's document, titled with the
            moment. {recorded}
          security:
            - sessionToken: []
          parameters:{report}
          responses:
            200:
              description: The PDF, never cached.{pdf}
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.AUDIT_READ)
        return self._rebuilt_pdf("report_as_of", report_request(request), "as of")

    @http("GET", "/api/audit/entries/<int:entry>/as-seen")
    def api_report_as_seen(self, request: Request, entry: int) -> Response:
        """The report a user viewed, as they saw it.
        ---
        get:
          summary: A report viewed, rebuilt from the entry recording it (JSON)
          description: >
            Needs the permission `audit.read`. The persons, look-back, moment and the
            viewer's own snoozed alerts come from the entry (`PatientReportViewed`).
            {recorded}
          security:
            - sessionToken: []
          parameters:{entry}
          responses:
            200:
              description: The report's content, never cached.
              content:
                application/json:
                  schema:
                    type: object
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.AUDIT_READ)
        return audit_answer(self, "report_as_seen", entry=entry)

    @http("GET", "/api/audit/entries/<int:entry>/as-seen.pdf")
    def api_report_as_seen_pdf(self, request: Request, entry: int) -> Response:
        """The report a user viewed, as they saw it, as a PDF.
        ---
        get:
          summary: A report viewed, rebuilt from the entry recording it (PDF)
          description: >
            Needs the permission `audit.read`. The document says who saw it, when and
            why. {recorded}
          security:
            - sessionToken: []
          parameters:{entry}
          responses:
            200:
              description: The PDF, never cached.{pdf}
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.AUDIT_READ)
        return self._rebuilt_pdf("report_as_seen", {"entry": entry}, f"entry {entry}")

    def _rebuilt_pdf(self, method: str, asked: dict[str, Any], name: str) -> Response:
        encoded = self.services.call(
            "audit", method, self.settings.rpc_timeout, format="pdf", **asked
        )
        pdf = base64.b64decode(encoded)
        return download(pdf, f"Patient History Report {name}.pdf", "application/pdf")

    for _route in (api_registration_as_of, api_report_as_of, api_report_as_of_pdf,
                   api_report_as_seen, api_report_as_seen_pdf):  # fmt: skip
        _route.__doc__ = _route.__doc__.format(recorded=_RECORDED, **_DOCUMENTED)
    del _route
