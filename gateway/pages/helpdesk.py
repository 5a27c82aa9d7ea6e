"""Help desk pages: the public form to ask for help, a user's own tickets, the staff queue,
a ticket with its actions, the administrators' policy form and the monthly report."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime
from typing import Any

from nameko.exceptions import RemoteError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from gateway.api.helpdesk import (
    MAX_AGE_DAYS,
    MAX_TICKET_REQUEST,
    STAFF_ACTIONS,
    USER_ACTIONS,
    HelpdeskApi,
)
from gateway.auth import client_address
from gateway.http import http
from gateway.pages.accounts import redirect
from gateway.pages.credentials import ticket_actions
from gateway.parameters import whole_number
from gateway.problems import Problem
from gateway.responses import download, uploaded_document
from pmp.documents import MAX_BYTES
from services.helpdesk.business_hours import CATEGORIES
from services.helpdesk.policy import CATEGORY_DESCRIPTIONS, CATEGORY_TITLES
from services.helpdesk.ticket import (
    ACCESS_PROBLEMS,
    ESCALATION_TARGETS,
    STATUS_TITLES,
)
from services.identity.resets import OPEN_TICKET
from services.identity.roles import Permission
from services.registration.forms import FORM_ERROR, errors_in

FORM_FIELDS = ("subject", "description", "contact_name", "contact_email", "contact_phone",
               "access_problem")  # fmt: skip
# Refusals a form shows beside its fields instead of an error page.
SHOWN = {"TicketRefused", "DocumentRejected", "TicketStateConflict", "PolicyRefused",
         "ReportRefused", "AccountStateConflict", "AccountError"}  # fmt: skip

# What the ticket page says after each action (the action's name, or the kind of comment).
NOTICES = {
    "reply": "Reply sent: the user is emailed a copy.",
    "note": "Internal note added: the user does not see it.",
    "comment": "Comment added: the help desk sees it on the ticket.",
    "reopen": "Reopened: the ticket is back in the help desk's queue.",
    "categorise": "Categorised: the response target follows the category.",
    "assign": "Assignment saved.",
    "escalate": "Escalated.",
    "resolve": "Resolved: the user is emailed the resolution.",
    "close": "Closed.",
    "unlock": "The account is unlocked; the identity service recorded it with this ticket's "
    "number.",
    "reset-mfa": "The authenticator app was reset; the user sets one up again at sign-in if "
    "their role needs it.",
    "temporary-password": "A new temporary password letter is queued for the mail room: it is "
    "posted to the address on file. Tell the user to expect it by post.",
}


class HelpdeskPages(HelpdeskApi):
    """Mixin of the gateway service (see ``gateway/service.py``); the API comes with it."""

    # -- anyone --------------------------------------------------------------------------------

    @http("GET", "/help/tickets/new")
    def new_ticket_page(self, request: Request) -> Response:
        principal = self._visitor(request)
        values = {"contact_name": (principal or {}).get("name", ""),
                  "contact_email": (principal or {}).get("email", "")}  # fmt: skip
        if request.args.get("problem") in ACCESS_PROBLEMS:
            values["access_problem"] = request.args["problem"]
        return self._new_ticket_page(request, principal, values)

    @http("POST", "/help/tickets/new")
    def open_ticket(self, request: Request) -> Response:
        request.max_content_length = MAX_TICKET_REQUEST
        self.auth.check_csrf(request)
        principal = self._visitor(request)
        values = {name: request.form.get(name, "").strip() for name in FORM_FIELDS}
        errors: dict[str, str] = {}
        attachments = []
        try:
            uploads = [f for f in request.files.getlist("attachments") if f and f.filename]
        except RequestEntityTooLarge:
            uploads, errors["attachments"] = [], "Attach at most five files of 10 MB each."
        for upload in uploads[:6]:
            content = upload.read(MAX_BYTES + 1)
            attachments.append(
                {"filename": upload.filename, "content": base64.b64encode(content).decode()}
            )
        ticket = {**values, "access_problem": values["access_problem"] or None}
        if not errors:
            try:
                # Too many asked: the error page, 429 with Retry-After (not ``SHOWN``).
                opened = self._helpdesk(
                    "open_ticket", ticket=ticket, attachments=attachments,
                    client=client_address(request),
                )  # fmt: skip
            except RemoteError as exc:
                if exc.exc_type not in SHOWN:
                    raise
                if exc.exc_type == "DocumentRejected":
                    errors["attachments"] = str(exc.value)
                else:
                    errors = errors_in(str(exc.value), set(FORM_FIELDS))
            else:
                return self.auth.page(
                    request, "help_opened.html", principal, 201, title="Request received",
                    active="help", opened=opened, email=values["contact_email"],
                )  # fmt: skip
        form_error = errors.pop(FORM_ERROR, None)
        return self._new_ticket_page(request, principal, values, 422, errors, form_error)

    @http("GET", "/help/confirm/<path:link>")
    def confirm_ticket_contact_page(self, request: Request, link: str) -> Response:
        """The link emailed to a signed-out opener: their address is confirmed, and the
        acknowledgement follows by email."""
        principal = self._visitor(request)
        try:
            confirmed = self._helpdesk("confirm_ticket_contact", link=link)
        except RemoteError as exc:
            if exc.exc_type != "LinkInvalid":
                raise
            return self.auth.page(
                request, "help_confirmed.html", principal, 422, title="The link does not work",
                active="help", link_error=str(exc.value),
            )  # fmt: skip
        return self.auth.page(
            request, "help_confirmed.html", principal, title="Email address confirmed",
            active="help", confirmed=confirmed,
        )  # fmt: skip

    def _new_ticket_page(self, request, principal, values, status=200, errors=None,
                         form_error=None) -> Response:  # fmt: skip
        return self.auth.page(
            request,
            "help_new.html",
            principal,
            status,
            title="Ask the help desk",
            active="help",
            values=values,
            errors=errors or {},
            form_error=form_error,
            problems=list(ACCESS_PROBLEMS.items()),
        )

    # -- signed-in users -----------------------------------------------------------------------

    @http("GET", "/help/tickets")
    def my_tickets_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services)
        found = self._helpdesk("my_tickets")
        return self.auth.page(
            request, "my_tickets.html", principal, title="My help desk tickets", active="help",
            tickets=found,
        )  # fmt: skip

    @http("GET", "/help/tickets/<uuid:ticket_id>")
    def ticket_page(self, request: Request, ticket_id: uuid.UUID) -> Response:
        principal = self.auth.require(request, self.services)
        ticket = self._helpdesk("get_ticket", ticket_id=str(ticket_id))
        notice = NOTICES.get(request.args.get("notice", ""), "")
        return self._ticket_page(request, principal, ticket, notice=notice)

    def _ticket_page(self, request, principal, ticket, status=200, error="", notice=""):
        staff = Permission.TICKET_MANAGE in principal["permissions"]
        return self.auth.page(
            request,
            "ticket.html",
            principal,
            status,
            title=f"Ticket {ticket['reference']}",
            active="queue" if staff else "help",
            ticket=ticket,
            staff=staff,
            account_actions=self._ticket_account_actions(principal, ticket) if staff else [],
            categories=[(c, CATEGORY_TITLES[c], CATEGORY_DESCRIPTIONS[c]) for c in CATEGORIES],
            targets=list(ESCALATION_TARGETS.items()),
            assignees=self._helpdesk("ticket_staff") if staff else [],
            error=error,
            notice=notice,
        )

    def _ticket_account_actions(self, principal: dict[str, Any], ticket: dict[str, Any]) -> list:
        """The account actions the reset table lets this member of staff take from this
        ticket: only an open access ticket linked to an account qualifies, and only actions
        on that account's role that the table allows with a ticket (or without one)."""
        if not (ticket["account_id"] and ticket["access_problem"]):
            return []
        if ticket["status"] not in OPEN_TICKET:
            return []
        try:
            account = self._helpdesk_identity("get_account", account_id=ticket["account_id"])
        except RemoteError:
            return []
        return ticket_actions(principal, account)

    def _helpdesk_identity(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("identity", method, self.settings.rpc_timeout, **kwargs)

    @http("GET", "/help/tickets/<uuid:ticket_id>/attachments/<uuid:document_id>")
    def ticket_attachment_page(
        self, request: Request, ticket_id: uuid.UUID, document_id: uuid.UUID
    ) -> Response:
        self.auth.require(request, self.services)
        found = self._helpdesk(
            "ticket_attachment", ticket_id=str(ticket_id), document_id=str(document_id)
        )
        return uploaded_document(found)

    @http("POST", "/help/tickets/<uuid:ticket_id>/<action>")
    def ticket_action_page(self, request: Request, ticket_id: uuid.UUID, action: str) -> Response:
        self.auth.check_csrf(request)
        if action not in USER_ACTIONS and action not in STAFF_ACTIONS:
            raise Problem(404, "Not found", f"There is no ticket action called {action!r}.")
        principal = self._require_action(request, action)
        form = request.form
        body = {
            "body": form.get("body", ""),
            "internal": form.get("internal") == "1",
            "category": form.get("category", ""),
            "assignee_id": principal["account_id"] if form.get("assignee") == "me"
            else form.get("assignee_id") or None,
            "to": form.get("to", ""),
            "reason": form.get("reason", ""),
            "resolution": form.get("resolution", ""),
        }  # fmt: skip
        try:
            self._ticket_action(str(ticket_id), action, body)
        except RemoteError as exc:
            if exc.exc_type not in SHOWN:
                raise
            ticket = self._helpdesk("get_ticket", ticket_id=str(ticket_id))
            return self._ticket_page(request, principal, ticket, 422, error=str(exc.value))
        notice = action
        if action == "comments":
            staff = Permission.TICKET_MANAGE in principal["permissions"]
            notice = ("note" if body["internal"] else "reply") if staff else "comment"
        return redirect(f"/help/tickets/{ticket_id}?notice={notice}")

    # -- staff ---------------------------------------------------------------------------------

    @http("GET", "/helpdesk/queue")
    def ticket_queue_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.TICKET_MANAGE)
        filters = _page_filters(request, principal)
        found = self._helpdesk("ticket_queue", **filters)
        return self.auth.page(
            request,
            "helpdesk_queue.html",
            principal,
            title="Help desk queue",
            active="queue",
            tickets=found,
            filters=filters,
            mine=request.args.get("assignee") == "me",
            assignees=self._helpdesk("ticket_staff"),
            statuses=[("active", "Open or escalated"), *STATUS_TITLES.items(), ("all", "All")],
            categories=[*CATEGORY_TITLES.items(), ("none", "Not yet categorised")],
        )

    # -- administrators ------------------------------------------------------------------------

    @http("GET", "/admin/helpdesk-policy")
    def helpdesk_helpdesk_policy_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.POLICY_MANAGE)
        policy = self._helpdesk("helpdesk_policy")
        return self._helpdesk_policy_page(request, principal, _policy_values(policy))

    @http("POST", "/admin/helpdesk-policy")
    def change_helpdesk_policy(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self.auth.require(request, self.services, Permission.POLICY_MANAGE)
        values = {name: request.form.get(name, "").strip()
                  for name in (*CATEGORIES, "reopen_days", "holidays")}  # fmt: skip
        errors: dict[str, str] = {}
        policy: dict[str, Any] = {"target_hours": {}, "holidays": []}
        for name in (*CATEGORIES, "reopen_days"):
            try:
                number = int(values[name])
            except ValueError:
                errors[name] = "Enter a whole number."
                continue
            if name == "reopen_days":
                policy["reopen_days"] = number
            else:
                policy["target_hours"][name] = number
        for line in values["holidays"].replace(",", "\n").splitlines():
            if line.strip():
                try:
                    policy["holidays"].append(date.fromisoformat(line.strip()).isoformat())
                except ValueError:
                    errors["holidays"] = f"{line.strip()!r} is not a date as YYYY-MM-DD."
        if not errors:
            try:
                changed = self._helpdesk("change_helpdesk_policy", policy=policy)
            except RemoteError as exc:
                if exc.exc_type not in SHOWN:
                    raise
                errors = {"form": str(exc.value)}
            else:
                return self._helpdesk_policy_page(
                    request, principal, _policy_values(changed), saved=True
                )
        form_error = errors.pop("form", None)
        return self._helpdesk_policy_page(request, principal, values, 422, errors, form_error)

    def _helpdesk_policy_page(
        self, request, principal, values, status=200, errors=None, form_error=None, saved=False
    ) -> Response:
        return self.auth.page(
            request, "helpdesk_policy.html", principal, status, title="Help desk policy",
            active="helpdesk-policy", values=values, errors=errors or {}, form_error=form_error,
            saved=saved,
            categories=[(c, CATEGORY_TITLES[c], CATEGORY_DESCRIPTIONS[c]) for c in CATEGORIES],
        )  # fmt: skip

    @http("GET", "/admin/helpdesk-report")
    def helpdesk_report_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.STATISTICS_VIEW)
        month = request.args.get("month") or _this_month()
        error = ""
        try:
            report = self._helpdesk("monthly_report", month=month)
        except RemoteError as exc:
            if exc.exc_type != "ReportRefused":
                raise
            report, error = None, str(exc.value)
        return self.auth.page(
            request, "helpdesk_report.html", principal, 422 if error else 200,
            title="Help desk report", active="helpdesk-report", report=report, month=month,
            error=error,
        )  # fmt: skip

    @http("GET", "/admin/helpdesk-report.csv")
    def helpdesk_report_csv(self, request: Request) -> Response:
        self.auth.require(request, self.services, Permission.STATISTICS_VIEW)
        month = request.args.get("month") or _this_month()
        report = self._helpdesk("monthly_report", month=month)
        return download(report["csv"].encode(), f"helpdesk-{month}.csv", "text/csv; charset=utf-8")


def _page_filters(request: Request, principal: dict[str, Any]) -> dict[str, Any]:
    args = request.args
    assignee = args.get("assignee", "")
    if assignee == "me":
        assignee = principal["account_id"]
    elif assignee not in ("", "none"):
        try:
            assignee = str(uuid.UUID(assignee))
        except ValueError:
            assignee = ""
    min_age = whole_number(request, "min_age_days", 0, maximum=MAX_AGE_DAYS)
    return {
        "status": args.get("status") or "active",
        "category": args.get("category", ""),
        "assignee": assignee,
        "min_age_days": min_age,
    }


def _policy_values(policy: dict[str, Any]) -> dict[str, Any]:
    return {
        **{c: policy["target_hours"][c] for c in CATEGORIES},
        "reopen_days": policy["reopen_days"],
        "holidays": "\n".join(policy["holidays"]),
    }


def _this_month() -> str:
    """The form's first month; the report's rules (the program's zone) are the service's."""
    return datetime.now(UTC).strftime("%Y-%m")
