"""The administrators' statistical report as JSON, CSV and PDF: reports requested per
individual, role, day or month (see ``services/query/statistics.py``)."""

from __future__ import annotations

import base64
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.api.registration import problem_response
from gateway.http import http
from gateway.responses import NO_STORE, download, json_response
from services.identity.roles import Permission

_PARAMETERS = """
            - in: query
              name: group
              schema:
                type: string
                enum: [individual, role, day, month]
                default: individual
            - in: query
              name: sort
              description: A column of the grouping, e.g. Reports, Name, Day.
              schema:
                type: string
                default: Reports
            - in: query
              name: descending
              schema:
                type: boolean
                default: true
            - in: query
              name: from
              schema:
                type: string
                format: date
            - in: query
              name: to
              schema:
                type: string
                format: date"""
_DOCUMENTED = {
    "parameters": _PARAMETERS,
    "refused": problem_response("A grouping, sort column or date the report does not have."),
}


def statistics_request(request: Request) -> dict[str, Any]:
    """What the query string asks the statistical report for."""
    return {
        "group": request.args.get("group", "individual"),
        "sort": request.args.get("sort", "Reports"),
        "descending": request.args.get("descending", "true") not in {"0", "false"},
        "date_from": request.args.get("from") or None,
        "date_to": request.args.get("to") or None,
    }


class StatisticsApi:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    def _statistics(self, method: str, request: Request) -> Any:
        return self.services.call(
            "query", method, self.settings.rpc_timeout, **statistics_request(request)
        )

    def _statistics_download(self, request: Request, kind: str) -> Response:
        if kind == "csv":
            text = self._statistics("statistics_csv", request)
            return download(text.encode(), "Statistical report.csv", "text/csv; charset=utf-8")
        pdf = base64.b64decode(self._statistics("statistics_pdf", request))
        return download(pdf, "Statistical report.pdf", "application/pdf")

    @http("GET", "/api/statistics")
    def api_statistics(self, request: Request) -> Response:
        """The statistical report.
        ---
        get:
          summary: Reports requested per individual, role, day or month
          description: Needs the permission `statistics.view` (administrators).
          security:
            - sessionToken: []
          parameters:{parameters}
          responses:
            200:
              description: >
                The table: group, columns, rows (lists in the columns' order), sort,
                descending, period.
              content:
                application/json:
                  schema:
                    type: object
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.STATISTICS_VIEW)
        found = self._statistics("statistics", request)
        return json_response(found, **NO_STORE)

    @http("GET", "/api/statistics.csv")
    def api_statistics_csv(self, request: Request) -> Response:
        """The statistical report as CSV.
        ---
        get:
          summary: The statistical report as CSV, to open in a spreadsheet
          description: Needs the permission `statistics.view` (administrators).
          security:
            - sessionToken: []
          parameters:{parameters}
          responses:
            200:
              description: The file (never cached).
              content:
                text/csv:
                  schema:
                    type: string
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.STATISTICS_VIEW)
        return self._statistics_download(request, "csv")

    @http("GET", "/api/statistics.pdf")
    def api_statistics_pdf(self, request: Request) -> Response:
        """The statistical report as PDF.
        ---
        get:
          summary: The statistical report as PDF
          description: Needs the permission `statistics.view` (administrators).
          security:
            - sessionToken: []
          parameters:{parameters}
          responses:
            200:
              description: The file (never cached).
              content:
                application/pdf:
                  schema:
                    type: string
                    format: binary
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.STATISTICS_VIEW)
        return self._statistics_download(request, "pdf")

    api_statistics.__doc__ = api_statistics.__doc__.format(**_DOCUMENTED)
    api_statistics_csv.__doc__ = api_statistics_csv.__doc__.format(**_DOCUMENTED)
    api_statistics_pdf.__doc__ = api_statistics_pdf.__doc__.format(**_DOCUMENTED)
