"""Misuse signals for investigators in the JSON API (see ``services/audit/misuse.py``)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.api.audit import audit_answer
from gateway.api.registration import problem_response
from gateway.http import http
from gateway.parameters import page_number, whole_number
from services.audit.history import MAX_PAGE_SIZE
from services.audit.signals import KINDS
from services.identity.roles import Permission

_DOCUMENTED = {
    "kinds": ", ".join(KINDS),
    "refused": problem_response("A filter the list cannot apply; it is named."),
}


def signals_request(request: Request) -> dict[str, Any]:
    """What the query string asks the list of misuse signals for."""
    asked: dict[str, Any] = {
        "kind": request.args.get("kind") or None,
        "account": request.args.get("account") or None,
        "page": page_number(request),
        "page_size": whole_number(request, "page_size", 50, minimum=1, maximum=MAX_PAGE_SIZE),
    }
    return asked


class MisuseApi:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    @http("GET", "/api/audit/signals")
    def api_misuse_signals(self, request: Request) -> Response:
        """Misuse signals raised about users' searches, newest first.
        ---
        get:
          summary: Searches that look like misuse, each with its evidence
          description: >
            Needs the permission `audit.read` (auditors, administrators). Each signal names
            its kind, the searcher (account, name and role), the patient when there is one,
            the searches that raised it and the evidence: a sentence and its numbers. A kind
            is raised at most once per user and patient (per day for daily searches) in
            PMP_MISUSE_QUIET_DAYS; the thresholds are the PMP_MISUSE_* settings.
          security:
            - sessionToken: []
          parameters:
            - in: query
              name: kind
              description: One kind of signal.
              schema:
                type: string
                enum: [{kinds}]
            - in: query
              name: account
              description: The searcher's account id.
              schema:
                type: string
                format: uuid
            - in: query
              name: page
              description: From 1.
              schema:
                type: integer
                minimum: 1
                default: 1
            - in: query
              name: page_size
              description: Signals a page.
              schema:
                type: integer
                minimum: 1
                maximum: 500
                default: 50
          responses:
            200:
              description: One page; `total` counts every matching signal, `kinds` names each kind.
              content:
                application/json:
                  schema:
                    type: object
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.AUDIT_READ)
        return audit_answer(self, "misuse_signals", **signals_request(request))

    api_misuse_signals.__doc__ = api_misuse_signals.__doc__.format(**_DOCUMENTED)
