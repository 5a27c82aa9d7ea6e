"""Patient search and the Patient History Report, as JSON and PDF.

A search attests its purpose and returns a ``search_id``; reports are only given for persons
that search found, so the query service can tie every report viewed to the search and the
purpose behind it. Every answer carries patient data: none may be cached.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.api.registration import problem_response
from gateway.http import http
from gateway.responses import NO_STORE, download, json_response
from gateway.schemas import (
    PatientReportSchema,
    PatientSearchResultSchema,
    PatientSearchSchema,
    load_body,
)
from gateway.shapes import shaper
from pmp.day_steps import daily
from services.identity.roles import Permission
from services.query.report import DEFAULT_MONTHS

REPORT_PDF = "Patient History Report.pdf"
ALERTS_PDF = "Patient alerts.pdf"
# Made once: a schema's construction copies its fields, a cost each lookup would pay again.
SEARCH = PatientSearchSchema()
# The answers' shapes, compiled once: marshmallow's dump of a report (a year of daily MME points)
# cost a millisecond a request.
FOUND = shaper(PatientSearchResultSchema())
REPORT = shaper(PatientReportSchema(exclude=("mme_chart",)))  # the chart: ``report_body``

_REPORT_PARAMETERS = """
            - in: path
              name: search_id
              required: true
              schema:
                type: string
                format: uuid
            - in: query
              name: person
              required: true
              description: A person_id the search found; repeat it for several.
              schema:
                type: array
                items:
                  type: string
                  format: uuid
              explode: true
            - in: query
              name: months
              description: The look-back, 1 to 36 months.
              schema:
                type: integer
                minimum: 1
                maximum: 36
                default: 12"""
_PDF = """
            200:
              description: The PDF, to save (never cached).
              content:
                application/pdf:
                  schema:
                    type: string
                    format: binary"""

_DOCUMENTED = {
    "parameters": _REPORT_PARAMETERS,
    "pdf": _PDF,
    "missing": problem_response("No such search of yours, or persons it did not find."),
    "look_back": problem_response("The look-back is outside 1 to 36 months."),
}


def report_request(request: Request) -> dict[str, Any]:
    """The persons and look-back a report URL asks for (the query service checks them)."""
    return {
        "person_ids": request.args.getlist("person"),
        "months": request.args.get("months", DEFAULT_MONTHS),
    }


class PatientsApi:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    def _query(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("query", method, self.settings.rpc_timeout, **kwargs)

    def _report_pdf(self, request: Request, search_id: str, method: str, filename: str) -> Response:
        pdf = self._query(method, search_id=search_id, **report_request(request))
        return download(base64.b64decode(pdf), filename, "application/pdf")

    @http("POST", "/api/searches")
    def api_search_patients(self, request: Request) -> Response:
        """Search for a patient.
        ---
        post:
          summary: Find a patient by name and date of birth, after attesting the purpose
          description: >
            Needs the permission `patient.search` and current standing (a renewal that
            came due, a suspension or a revocation refuses it). The date of birth is also
            tried with day and month swapped; names are matched with tolerance for typos
            and nicknames. Every search is recorded (PatientSearched) with its purpose.
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: PatientSearch
          responses:
            200:
              description: >
                The outcome ("none", "one" or "several") and the persons found; pass
                search_id and the chosen person_ids to the report.
              content:
                application/json:
                  schema: PatientSearchResult
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.PATIENT_SEARCH)
        body = SEARCH.dump(load_body(SEARCH, request))
        found = self._query("search_patients", **body)
        return json_response(FOUND(found), **NO_STORE)

    @http("GET", "/api/searches/<uuid:search_id>/report")
    def api_patient_report(self, request: Request, search_id: uuid.UUID) -> Response:
        """The Patient History Report.
        ---
        get:
          summary: The Patient History Report of persons your search found
          description: >
            Needs the permission `report.view`. Alerts come first; `alerts.engine` "not
            connected" means they were not evaluated, not that there are none. Every
            report viewed is recorded (PatientReportViewed).
          security:
            - sessionToken: []
          parameters:{parameters}
          responses:
            200:
              description: The report.
              content:
                application/json:
                  schema: PatientReport
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            422:{look_back}
        """
        self.auth.require(request, self.services, Permission.REPORT_VIEW)
        found = self._query("patient_report", search_id=str(search_id), **report_request(request))
        return json_response(report_body(found), **NO_STORE)

    @http("GET", "/api/searches/<uuid:search_id>/report.pdf")
    def api_patient_report_pdf(self, request: Request, search_id: uuid.UUID) -> Response:
        """The Patient History Report as a PDF.
        ---
        get:
          summary: The Patient History Report as "Patient History Report.pdf"
          description: Needs the permission `report.view`. Watermarked with your name.
          security:
            - sessionToken: []
          parameters:{parameters}
          responses:{pdf}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            422:{look_back}
        """
        self.auth.require(request, self.services, Permission.REPORT_VIEW)
        return self._report_pdf(request, str(search_id), "patient_report_pdf", REPORT_PDF)

    @http("GET", "/api/searches/<uuid:search_id>/alerts.pdf")
    def api_patient_alerts_pdf(self, request: Request, search_id: uuid.UUID) -> Response:
        """The patients' clinical alerts as a PDF.
        ---
        get:
          summary: Every clinical alert of the persons as "Patient alerts.pdf"
          description: Needs the permission `report.view`.
          security:
            - sessionToken: []
          parameters:{parameters}
          responses:{pdf}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            422:{look_back}
        """
        self.auth.require(request, self.services, Permission.REPORT_VIEW)
        return self._report_pdf(request, str(search_id), "patient_alerts_pdf", ALERTS_PDF)

    api_search_patients.__doc__ = api_search_patients.__doc__.format(
        refused=problem_response(
            "A field is missing or not valid, or the purpose attested is not your role's "
            "(the detail names the field).",
            "ValidationProblem",
        )
    )
    api_patient_report.__doc__ = api_patient_report.__doc__.format(**_DOCUMENTED)
    api_patient_report_pdf.__doc__ = api_patient_report_pdf.__doc__.format(**_DOCUMENTED)
    api_patient_alerts_pdf.__doc__ = api_patient_alerts_pdf.__doc__.format(**_DOCUMENTED)


def report_body(report: dict[str, Any]) -> dict[str, Any]:
    """The report as the API document says: the query service's MME/day steps answered as
    the daily series ``mme_chart`` (made here as plain points, not shaped one by one)."""
    body = REPORT(report)
    body["mme_chart"] = daily(report["mme_steps"], report["from"], report["to"])
    return body
