"""The help desk in the JSON API: anyone opens a ticket; signed-in users read and answer
their own; staff (`ticket.manage`) work the queue; administrators set the policy and read
the monthly report (see ``services/helpdesk/``)."""

from __future__ import annotations

import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.api.registration import problem_response
from gateway.auth import client_address
from gateway.http import http
from gateway.parameters import whole_number
from gateway.problems import Problem
from gateway.responses import NO_STORE, json_response, uploaded_document
from gateway.schemas import (
    HelpdeskPolicySchema,
    HelpdeskReportSchema,
    TicketActedSchema,
    TicketActionSchema,
    TicketConfirmedSchema,
    TicketCreatedSchema,
    TicketRequestSchema,
    TicketSchema,
    TicketSummarySchema,
    load_body,
)
from services.identity.roles import Permission

# A ticket's JSON body may carry five base64 files of 10 MB each.
MAX_TICKET_REQUEST = 70 * 1024 * 1024
USER_ACTIONS = frozenset({"comments", "reopen"})
STAFF_ACTIONS = {
    "categorise": Permission.TICKET_MANAGE,
    "assign": Permission.TICKET_MANAGE,
    "escalate": Permission.TICKET_MANAGE,
    "resolve": Permission.TICKET_MANAGE,
    "close": Permission.TICKET_MANAGE,
    "unlock": Permission.USER_UNLOCK,
    "reset-mfa": Permission.USER_UNLOCK,
    "temporary-password": Permission.USER_TEMPORARY_PASSWORD,
}
_DOCUMENTED = {
    "refused": problem_response("A field is missing or not valid; each is named."),
    "missing": problem_response("No such ticket, or not one of yours."),
    "conflict": problem_response("The ticket's state does not allow this; the detail says why."),
    "throttled": problem_response("Too many tickets asked; `Retry-After` says when to retry."),
}


def _documented(doc: str) -> str:
    """The docstring with the shared problem answers in place (YAML braces stay as they are)."""
    for key, text in _DOCUMENTED.items():
        doc = doc.replace("{" + key + "}", text)
    return doc


class HelpdeskApi:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    def _helpdesk(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("helpdesk", method, self.settings.rpc_timeout, **kwargs)

    def _ticket_action(self, ticket_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """One action on a ticket, as pages and API send it; the ticket after it (and, for an
        account action, its outcome: a temporary password's letter is queued for the mail
        room, never returned)."""
        calls = {
            "comments": ("comment_on_ticket", {"body": body.get("body", ""),
                                               "internal": bool(body.get("internal"))}),
            "reopen": ("reopen_ticket", {"reason": body.get("reason", "")}),
            "categorise": ("categorise_ticket", {"category": body.get("category", "")}),
            "assign": ("assign_ticket", {"assignee_id": body.get("assignee_id") or None}),
            "escalate": ("escalate_ticket", {"to": body.get("to", ""),
                                             "reason": body.get("reason", "")}),
            "resolve": ("resolve_ticket", {"resolution": body.get("resolution", "")}),
            "close": ("close_ticket", {"reason": body.get("reason", "")}),
            "unlock": ("ticket_account_action", {"action": "unlock",
                                                 "reason": body.get("reason", "")}),
            "reset-mfa": ("ticket_account_action", {"action": "reset_mfa",
                                                    "reason": body.get("reason", "")}),
            "temporary-password": ("ticket_account_action", {"action": "temporary_password",
                                                             "reason": body.get("reason", "")}),
        }  # fmt: skip
        method, kwargs = calls[action]
        done = self._helpdesk(method, ticket_id=ticket_id, **kwargs)
        if method == "ticket_account_action":
            return done
        return {"ticket": done, "outcome": None, "letter_id": None}

    def _require_action(self, request: Request, action: str) -> dict[str, Any]:
        if action in USER_ACTIONS:
            return self.auth.require(request, self.services)
        if action in STAFF_ACTIONS:
            self.auth.require(request, self.services, Permission.TICKET_MANAGE)
            return self.auth.require(request, self.services, STAFF_ACTIONS[action])
        raise Problem(404, "Not found", f"There is no ticket action called {action!r}.")

    @http("POST", "/api/tickets")
    def api_open_ticket(self, request: Request) -> Response:
        """Open a help desk ticket.
        ---
        post:
          summary: Report a problem to the help desk; no sign-in needed
          description: >
            Public: a user who cannot sign in (locked, expired) must be able to ask for help.
            Sent with a session token, the ticket is the signed-in user's own. Without one,
            a ticket whose `access_problem` is set is linked to the account of
            `contact_email`, if there is one (nothing tells the sender whether there is),
            and `contact_email` is first sent only a link to confirm it
            (`POST /api/ticket-confirmations/{link}`): the acknowledgement and replies follow
            once it is used. Attachments follow the registration documents' rules. Too many
            tickets to one address or from one client address get 429 with `Retry-After`
            (seconds).
          security:
            - {}
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: TicketRequest
          responses:
            201:
              description: Opened; the reference to quote.
              content:
                application/json:
                  schema: TicketCreated
            413:
              description: The request is over 70 MB.
            422:{refused}
            429:{throttled}
        """
        request.max_content_length = MAX_TICKET_REQUEST
        if (request.content_length or 0) > MAX_TICKET_REQUEST:
            raise Problem(413, "The request is too large", "Attach at most five 10 MB files.")
        self.auth.principal(request, self.services)  # a signed-in opener owns the ticket
        body = load_body(TicketRequestSchema(), request)
        attachments = body.pop("attachments")
        opened = self._helpdesk(
            "open_ticket", ticket=body, attachments=attachments, client=client_address(request)
        )
        return json_response(TicketCreatedSchema().dump(opened), status=201, **NO_STORE)

    @http("POST", "/api/ticket-confirmations/<link>")
    def api_confirm_ticket_contact(self, request: Request, link: str) -> Response:
        """Confirm the address of a ticket opened without signing in (public; the link is
        the secret).
        ---
        post:
          summary: Use the emailed confirmation link; the acknowledgement follows by email
          description: >
            Using the link again changes nothing and answers the same.
          security: []
          parameters:
            - in: path
              name: link
              required: true
              schema:
                type: string
          responses:
            200:
              description: Confirmed; the ticket's reference.
              content:
                application/json:
                  schema: TicketConfirmed
            422:{refused}
        """
        confirmed = self._helpdesk("confirm_ticket_contact", link=link)
        return json_response(TicketConfirmedSchema().dump(confirmed), **NO_STORE)

    @http("GET", "/api/tickets")
    def api_my_tickets(self, request: Request) -> Response:
        """Your tickets.
        ---
        get:
          summary: The tickets you opened (or that concern your account), newest first
          description: Any signed-in user.
          security:
            - sessionToken: []
          responses:
            200:
              description: Your tickets.
              content:
                application/json:
                  schema:
                    type: array
                    items: TicketSummary
            401: NotSignedIn
        """
        self.auth.require(request, self.services)
        found = self._helpdesk("my_tickets")
        return json_response(TicketSummarySchema(many=True).dump(found), **NO_STORE)

    @http("GET", "/api/tickets/<uuid:ticket_id>")
    def api_ticket(self, request: Request, ticket_id: uuid.UUID) -> Response:
        """One ticket with its comments and history.
        ---
        get:
          summary: A ticket, as you may see it
          description: >
            Its user sees their own ticket without internal comments; staff (`ticket.manage`)
            see every ticket whole. Anyone else is told there is no such ticket.
          security:
            - sessionToken: []
          parameters:
            - {in: path, name: ticket_id, required: true, schema: {type: string, format: uuid}}
          responses:
            200:
              description: The ticket.
              content:
                application/json:
                  schema: Ticket
            401: NotSignedIn
            404:{missing}
        """
        self.auth.require(request, self.services)
        found = self._helpdesk("get_ticket", ticket_id=str(ticket_id))
        return json_response(TicketSchema().dump(found), **NO_STORE)

    @http("GET", "/api/tickets/<uuid:ticket_id>/attachments/<uuid:document_id>")
    def api_ticket_attachment(
        self, request: Request, ticket_id: uuid.UUID, document_id: uuid.UUID
    ) -> Response:
        """A file attached to a ticket.
        ---
        get:
          summary: Download a ticket's attachment
          description: The ticket's user and staff (`ticket.manage`).
          security:
            - sessionToken: []
          parameters:
            - {in: path, name: ticket_id, required: true, schema: {type: string, format: uuid}}
            - {in: path, name: document_id, required: true, schema: {type: string, format: uuid}}
          responses:
            200:
              description: The file, as a download.
            401: NotSignedIn
            404:{missing}
        """
        self.auth.require(request, self.services)
        found = self._helpdesk(
            "ticket_attachment", ticket_id=str(ticket_id), document_id=str(document_id)
        )
        return uploaded_document(found)

    @http("POST", "/api/tickets/<uuid:ticket_id>/<action>")
    def api_ticket_action(self, request: Request, ticket_id: uuid.UUID, action: str) -> Response:
        """Act on a ticket.
        ---
        post:
          summary: Comment, reopen; for staff also categorise, assign, escalate, resolve, close,
            unlock the account, reset its authenticator, queue a temporary password letter
          description: >
            `comments` and `reopen`: the ticket's user (a reply from staff is emailed to the
            user; an `internal` comment is staff-only and never shown or sent to the user);
            a user may reopen within the policy's reopen period. The others need
            `ticket.manage`; `unlock` and `reset-mfa` also `user.unlock`, `temporary-password`
            also `user.temporary_password`, and the reset table: the ticket must be an open
            access ticket of a registrant's account. Identity records the action with the
            ticket's number, and the ticket records it as an internal comment. A temporary
            password's letter is queued for the mail room and posted to the address on file
            (202): it is never returned.
          security:
            - sessionToken: []
          parameters:
            - {in: path, name: ticket_id, required: true, schema: {type: string, format: uuid}}
            - in: path
              name: action
              required: true
              schema:
                type: string
                enum: [comments, reopen, categorise, assign, escalate, resolve, close, unlock,
                  reset-mfa, temporary-password]
          requestBody:
            required: true
            content:
              application/json:
                schema: TicketAction
          responses:
            200:
              description: The ticket after the action.
              content:
                application/json:
                  schema: TicketActed
            202:
              description: temporary-password; the letter is queued for the mail room.
              content:
                application/json:
                  schema: TicketActed
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            409:{conflict}
            422:{refused}
        """
        self._require_action(request, action)
        body = load_body(TicketActionSchema(), request)
        if body.get("assignee_id") is not None:
            body["assignee_id"] = str(body["assignee_id"])
        done = self._ticket_action(str(ticket_id), action, body)
        status = 202 if done.get("outcome") == "queued" else 200
        return json_response(TicketActedSchema().dump(done), status, **NO_STORE)

    @http("GET", "/api/helpdesk/queue")
    def api_ticket_queue(self, request: Request) -> Response:
        """The help desk's queue.
        ---
        get:
          summary: Tickets past their response target first, then those not yet categorised,
            then by deadline
          description: Needs `ticket.manage` (help-desk staff, administrators).
          security:
            - sessionToken: []
          parameters:
            - in: query
              name: status
              schema: {type: string, enum: [active, open, escalated, resolved, closed, all]}
              description: active (open or escalated) unless given.
            - in: query
              name: category
              schema: {type: string, enum: [critical, high, medium, low, none]}
            - in: query
              name: assignee
              schema: {type: string}
              description: An account id, or `none` for unassigned tickets.
            - in: query
              name: min_age_days
              schema: {type: integer, minimum: 0, maximum: 36500}
          responses:
            200:
              description: The queue (at most 500 tickets).
              content:
                application/json:
                  schema:
                    type: array
                    items: TicketSummary
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.TICKET_MANAGE)
        found = self._helpdesk("ticket_queue", **_queue_filters(request))
        return json_response(TicketSummarySchema(many=True).dump(found), **NO_STORE)

    @http("GET", "/api/helpdesk/policy")
    def api_helpdesk_policy(self, request: Request) -> Response:
        """The help desk's policy.
        ---
        get:
          summary: Response targets per category, the reopen period and the holidays
          description: Needs `policy.manage` (administrators).
          security:
            - sessionToken: []
          responses:
            200:
              description: The policy in force.
              content:
                application/json:
                  schema: HelpdeskPolicy
            401: NotSignedIn
            403: RoleRefused
        """
        self.auth.require(request, self.services, Permission.POLICY_MANAGE)
        found = self._helpdesk("helpdesk_policy")  # JSON already: dates as YYYY-MM-DD
        return json_response(found, **NO_STORE)

    @http("PUT", "/api/helpdesk/policy")
    def api_change_helpdesk_policy(self, request: Request) -> Response:
        """Change the help desk's policy.
        ---
        put:
          summary: Set the response targets, reopen period and holidays at once
          description: >
            Needs `policy.manage` (administrators). Recorded as HelpdeskPolicyChanged; the
            queue's deadlines follow it at once.
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: HelpdeskPolicy
          responses:
            200:
              description: The policy now in force.
              content:
                application/json:
                  schema: HelpdeskPolicy
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.POLICY_MANAGE)
        body = load_body(HelpdeskPolicySchema(), request)
        changed = self._helpdesk("change_helpdesk_policy", policy=HelpdeskPolicySchema().dump(body))
        return json_response(changed, **NO_STORE)

    @http("GET", "/api/helpdesk/reports/<month>")
    def api_helpdesk_report(self, request: Request, month: str) -> Response:
        """The monthly help desk report.
        ---
        get:
          summary: Tickets opened in a month, by category, with median times to first
            response and to resolution
          description: >
            Needs `statistics.view` (administrators). The month is YYYY-MM in the program's
            time zone; times are in the hours the targets count (Critical every hour, the
            others support hours).
          security:
            - sessionToken: []
          parameters:
            - {in: path, name: month, required: true, schema: {type: string, example: 2026-11}}
          responses:
            200:
              description: The report.
              content:
                application/json:
                  schema: HelpdeskReport
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.STATISTICS_VIEW)
        found = self._helpdesk("monthly_report", month=month)
        return json_response(HelpdeskReportSchema().dump(found), **NO_STORE)

    api_open_ticket.__doc__ = _documented(api_open_ticket.__doc__)
    api_confirm_ticket_contact.__doc__ = _documented(api_confirm_ticket_contact.__doc__)
    api_ticket.__doc__ = _documented(api_ticket.__doc__)
    api_ticket_attachment.__doc__ = _documented(api_ticket_attachment.__doc__)
    api_ticket_action.__doc__ = _documented(api_ticket_action.__doc__)
    api_ticket_queue.__doc__ = _documented(api_ticket_queue.__doc__)
    api_change_helpdesk_policy.__doc__ = _documented(api_change_helpdesk_policy.__doc__)
    api_helpdesk_report.__doc__ = _documented(api_helpdesk_report.__doc__)


MAX_AGE_DAYS = 36_500  # a century: older than any ticket, and still a date to compare with


def _queue_filters(request: Request) -> dict[str, Any]:
    args = request.args
    min_age = whole_number(request, "min_age_days", 0, maximum=MAX_AGE_DAYS)
    status = args.get("status") or "active"
    return {
        "status": status,
        "category": args.get("category", ""),
        "assignee": args.get("assignee", ""),
        "min_age_days": min_age,
    }
