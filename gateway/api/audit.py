"""The audit trail for investigators in the JSON API (see ``services/audit/history.py``)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import orjson
from werkzeug.wrappers import Request, Response

from gateway.api.registration import problem_response
from gateway.http import http
from gateway.parameters import moment, page_number, whole_number
from gateway.responses import NO_STORE, download, json_response
from services.audit.history import MAX_PAGE_SIZE
from services.identity.roles import Permission

_TIME_WINDOW = """
            - in: query
              name: since
              description: From this time, with its offset.
              schema:
                type: string
                format: date-time
            - in: query
              name: until
              description: Before this time, with its offset.
              schema:
                type: string
                format: date-time"""
_PARAMETERS = (
    """
            - in: query
              name: actor
              description: The account that acted.
              schema:
                type: string
            - in: query
              name: patient
              description: A patient's person id; the searches and reports that found them.
              schema:
                type: string
                format: uuid
            - in: query
              name: source
              description: The service that recorded the event.
              schema:
                type: string
                enum: [identity, registration, submissions, query, alerts, audit, helpdesk]
            - in: query
              name: type
              description: An event type, e.g. PatientSearched.
              schema:
                type: string"""
    + _TIME_WINDOW
    + """
            - in: query
              name: order
              description: Newest or oldest first.
              schema:
                type: string
                enum: [newest, oldest]
                default: newest
            - in: query
              name: page
              description: From 1.
              schema:
                type: integer
                minimum: 1
                default: 1
            - in: query
              name: page_size
              description: Entries a page.
              schema:
                type: integer
                minimum: 1
                maximum: 500
                default: 50"""
)
_WINDOW = (
    """
            - in: path
              name: account_id
              required: true
              schema:
                type: string
                format: uuid"""
    + _TIME_WINDOW
)
_DOCUMENTED = {
    "parameters": _PARAMETERS,
    "window": _WINDOW,
    "refused": problem_response("A filter the history cannot apply; it is named."),
}


def audit_answer(api: Any, method: str, **asked: Any) -> Response:
    """The audit service's answer to an investigator's question (asked after the route has
    checked ``audit.read``), never cached: it may hold patient data."""
    found = api.services.call("audit", method, api.settings.rpc_timeout, **asked)
    return json_response(found, **NO_STORE)


def history_request(request: Request) -> dict[str, Any]:
    """What the query string asks the audit history for."""
    asked: dict[str, Any] = {
        "actor": request.args.get("actor") or None,
        "patient": request.args.get("patient") or None,
        "source": request.args.get("source") or None,
        "event_type": request.args.get("type") or None,
        **time_window(request),
        "order": request.args.get("order", "newest"),
        "page": page_number(request),
        "page_size": whole_number(request, "page_size", 50, minimum=1, maximum=MAX_PAGE_SIZE),
    }
    return asked


def time_window(request: Request) -> dict[str, str | None]:
    """The since/until the query string chose, each a moment with its offset."""
    return {"since": moment(request, "since"), "until": moment(request, "until")}


class AuditApi:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    @http("GET", "/api/audit/history")
    def api_audit_history(self, request: Request) -> Response:
        """The audit trail, filtered and paged.
        ---
        get:
          summary: Every recorded event, by who acted, patient, service, kind and time
          description: >
            Needs the permission `audit.read` (auditors, administrators). Each entry is
            the event exactly as its service recorded it, with its place in the chain (`n`)
            and its hash. Oldest first, page after page, replays the history in order.
          security:
            - sessionToken: []
          parameters:{parameters}
          responses:
            200:
              description: One page; `total` counts every matching entry.
              content:
                application/json:
                  schema:
                    type: object
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.AUDIT_READ)
        return audit_answer(self, "history", **history_request(request))

    @http("GET", "/api/audit/users/<uuid:account_id>/activity.jsonl")
    def api_user_activity(self, request: Request, account_id: uuid.UUID) -> Response:
        """The user activity report as JSON lines.
        ---
        get:
          summary: Everything one user did, and was done to their account, oldest first
          description: >
            Needs the permission `audit.read`. One line per event: the user's searches,
            reports viewed, sign-ins, password changes, and their account's and
            registration's events (an approval by an administrator included), as recorded.
          security:
            - sessionToken: []
          parameters:{window}
          responses:
            200:
              description: The file, a JSON object per line (never cached).
              content:
                application/jsonl:
                  schema:
                    type: string
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.AUDIT_READ)
        return self._activity_jsonl(str(account_id), time_window(request))

    @http("GET", "/api/audit/users/<uuid:account_id>/activity.pdf")
    def api_user_activity_pdf(self, request: Request, account_id: uuid.UUID) -> Response:
        """The user activity report as a PDF.
        ---
        get:
          summary: The same report, printable, each page marked with who asked for it
          description: >
            Needs the permission `audit.read`. One line per event, oldest first: when (in
            the program's time zone), the service, the event, who acted and its details.
          security:
            - sessionToken: []
          parameters:{window}
          responses:
            200:
              description: The PDF (never cached).
              content:
                application/pdf:
                  schema:
                    type: string
                    format: binary
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.AUDIT_READ)
        window = time_window(request)
        period = f"{window['since'] or 'the start'} to {window['until'] or 'now'}"
        return self._activity_pdf(str(account_id), window, period)

    def _activity_jsonl(self, account_id: str, window: dict[str, str | None]) -> Response:
        """Every entry of the report whole, oldest first, a page of the history at a time."""
        entries: list[dict[str, Any]] = []
        page = 1
        while True:
            found = self.services.call(
                "audit", "history", self.settings.rpc_timeout, user=account_id,
                order="oldest", page=page, page_size=500, **window,
            )  # fmt: skip
            entries += found["entries"]
            if page * 500 >= found["total"]:
                break
            page += 1
        body = b"".join(orjson.dumps(entry) + b"\n" for entry in entries)
        return download(body, f"User activity {account_id}.jsonl", "application/jsonl")

    def _activity_pdf(
        self, account_id: str, window: dict[str, str | None], period: str
    ) -> Response:
        encoded = self.services.call(
            "audit", "user_activity_pdf", self.settings.rpc_timeout,
            user=account_id, period=period, **window,
        )  # fmt: skip
        pdf = base64.b64decode(encoded)
        return download(pdf, f"User activity {account_id}.pdf", "application/pdf")

    api_audit_history.__doc__ = api_audit_history.__doc__.format(**_DOCUMENTED)
    api_user_activity.__doc__ = api_user_activity.__doc__.format(**_DOCUMENTED)
    api_user_activity_pdf.__doc__ = api_user_activity_pdf.__doc__.format(**_DOCUMENTED)
