"""nameko entrypoints of the help desk: problem tickets with the four priority categories.

Each RPC loads a ticket, asks the domain (``ticket.py``) for a decision and appends what it
returns. Anyone may open a ticket, signed in or not (a locked-out user must be able to ask
for help), within the mail limits (``pmp/ratelimit.py``: per client address and per contact
address); a signed-out opener's address is written to only once they confirm it. A
signed-in user sees and acts on their own tickets only, never internal comments; everything
else needs ``ticket.manage`` (help-desk staff and administrators), checked here as well as
in the gateway. Emails to the user follow from the events (``mail.py``). Identity actions
taken from a ticket (unlock, an authenticator reset, a new temporary password letter) are
made by identity's own RPCs, with the staff member's context and the ticket's id, so
identity checks their permission and the ticket (``access_ticket``) and records the action
with a reason naming the ticket; the ticket records it as an internal comment.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

from nameko.exceptions import RemoteError

from pmp import documents, ratelimit
from pmp.calls import ServiceOf
from pmp.documents import DocumentRejected, DocumentStore, inspect_document
from pmp.logs import get_logger
from pmp.registry import load_or_refuse
from pmp.rpc import rpc
from pmp.service import EventSourcedService, ServiceKernel
from services.helpdesk.links import read_link
from services.helpdesk.mail import HelpdeskMail
from services.helpdesk.policy import HelpdeskPolicy, PolicySchema
from services.helpdesk.projections import PROJECTIONS, TicketQueries
from services.helpdesk.report import month_bounds, monthly_report, report_csv
from services.helpdesk.repository import NotFound, Tickets
from services.helpdesk.schemas import NewTicket, helpdesk_events
from services.helpdesk.ticket import (
    ACCOUNT_ACTIONS,
    Actor,
    NotYourTicket,
    Ticket,
    TicketRefused,
    TicketStateConflict,
)
from services.helpdesk.views import ticket_view
from services.identity.roles import NotAuthorized, Permission, Role, allows, require_granted

log = get_logger(__name__)

MAX_ATTACHMENTS = 5
MAX_STAFF_PAGES = 40  # of identity's directory, per role: 1,000 accounts
STAFF_ROLES = frozenset({str(Role.HELPDESK), str(Role.ADMINISTRATOR)})
ACTION_PERMISSIONS = {
    "unlock": Permission.USER_UNLOCK,
    "reset_mfa": Permission.USER_UNLOCK,
    "temporary_password": Permission.USER_TEMPORARY_PASSWORD,
}


class PolicyRefused(ValueError):
    """The policy sent is not acceptable; the message names each field."""


class ReportRefused(ValueError):
    """The report asked for cannot be made (a month that is not YYYY-MM)."""


def _identity_refusal(exc: RemoteError) -> Exception:
    if exc.exc_type in {"AccountStateConflict", "AccountError"}:
        return TicketStateConflict(f"The identity service refused: {exc.value}")
    if exc.exc_type == "NotAuthorized":
        return NotAuthorized(str(exc.value))
    if exc.exc_type == "NotFound":
        return TicketStateConflict("The account linked to this ticket no longer exists.")
    return exc


class HelpdeskService(EventSourcedService):
    name = "helpdesk"
    kernel = ServiceKernel(
        helpdesk_events(),
        projections=PROJECTIONS,
        tables=(documents.metadata, ratelimit.metadata),
        reactions=(HelpdeskMail,),
    )
    identity = ServiceOf("identity")

    # -- helpers -------------------------------------------------------------------------------

    @property
    def tickets(self) -> Tickets:
        return Tickets(self.kernel)

    @property
    def queries(self) -> TicketQueries:
        return TicketQueries(self.kernel.db.read)

    def _now(self) -> datetime:
        return self.kernel.clock()

    def _actor(self) -> Actor:
        """Who is asking: staff if granted ``ticket.manage`` now, else a user (or nobody)."""
        k = self.kernel
        granted = k.actor_permissions
        staff = allows(k.actor_role, Permission.TICKET_MANAGE) and (
            granted is None or Permission.TICKET_MANAGE in granted
        )
        return Actor(k.actor_id, k.actor_name, staff=staff and k.actor_id is not None)

    def _require(self, permission: Permission) -> None:
        require_granted(self.kernel.actor_role, self.kernel.actor_permissions, permission)

    def _staff(self) -> Actor:
        self._require(Permission.TICKET_MANAGE)
        return self._actor()

    def _signed_in(self) -> Actor:
        actor = self._actor()
        if actor.account_id is None:
            raise NotAuthorized("Sign in to see your tickets.")
        return actor

    def _visible(self, ticket_id: str, actor: Actor) -> Ticket:
        ticket = self.tickets.get(ticket_id)
        if not ticket.visible_to(actor):
            raise NotFound("There is no such ticket.")  # never tell a user it exists
        return ticket

    def _decide(self, ticket_id: str, actor: Actor, decision) -> dict[str, Any]:
        self._visible(ticket_id, actor)
        try:
            ticket = self.tickets.decide(ticket_id, decision)
        except NotYourTicket:
            raise NotFound("There is no such ticket.") from None
        return self._view(ticket, actor)

    def _view(self, ticket: Ticket, actor: Actor) -> dict[str, Any]:
        policy = self.tickets.policy()
        history = self.tickets.history(ticket.ticket_id)
        calendar = self.tickets.calendar(policy)
        return ticket_view(ticket, actor, history, calendar, policy, self._now())

    # -- anyone --------------------------------------------------------------------------------

    @rpc
    def open_ticket(
        self,
        ticket: dict[str, Any],
        attachments: list[dict[str, str]] | None = None,
        client: str = "",
    ) -> dict[str, Any]:
        """Open a ticket; public. A signed-in opener owns it; a signed-out user who reports an
        access problem has it linked to the account their email address belongs to, and is
        sent a link to confirm the address before anything else. Each ticket is an email:
        too many from ``client`` (the gateway's client address) or to one address are
        refused (``RateLimited``), after the ticket was checked and before anything is
        stored."""
        given = load_or_refuse(NewTicket(), ticket, TicketRefused)
        files = list(attachments or [])
        if len(files) > MAX_ATTACHMENTS:
            raise DocumentRejected(f"Attach at most {MAX_ATTACHMENTS} files to one ticket")
        inspected = [self._inspect(f) for f in files]
        actor = self._actor()
        account_id = actor.account_id or self._account_of(given)
        ticket_id = str(uuid.uuid4())
        listed = [
            {"document_id": str(uuid.uuid4()), "sha256": i.sha256, "filename": i.filename,
             "content_type": i.content_type, "size": i.size}
            for i, _ in inspected
        ]  # fmt: skip
        contact = {"name": given["contact_name"], "email": given["contact_email"],
                   "phone": given["contact_phone"]}  # fmt: skip
        changes = Ticket.open(
            ticket_id, given["subject"], given["description"], contact, account_id,
            given["access_problem"], listed, contact_confirmed=actor.account_id is not None,
        )  # fmt: skip
        self.kernel.store.registry.validate_all(changes)  # refuse before storing any file
        ratelimit.RateLimit(self.kernel.db).check(
            ratelimit.mail_checks(self.kernel.settings, "ticket", given["contact_email"], client),
            self._now(),
        )
        store = DocumentStore(self.kernel.db)
        for found, raw in inspected:
            store.put(found, raw, self._now())
        opened = self.tickets.open(ticket_id, changes)
        log.info("ticket opened", ticket_id=ticket_id, linked=account_id is not None)
        return {"ticket_id": ticket_id, "reference": opened.reference,
                "signed_in": actor.account_id is not None}  # fmt: skip

    @rpc
    def confirm_ticket_contact(self, link: str) -> dict[str, Any]:
        """Public: the link emailed to a signed-out opener, opened maybe on another device.
        The acknowledgement follows (``mail.py``); using it again changes nothing."""
        ticket_id = read_link(self.kernel.settings, link)
        ticket = self.tickets.decide(ticket_id, lambda t: t.confirm_contact())
        log.info("ticket contact confirmed", ticket_id=ticket_id)
        return {"reference": ticket.reference}

    def _inspect(self, upload: dict[str, str]):
        try:
            raw = base64.b64decode(upload.get("content") or "", validate=True)
        except (binascii.Error, ValueError):
            raise DocumentRejected(
                "The upload was damaged on the way; choose the file again"
            ) from None
        name = upload.get("filename") or "attachment"
        try:
            return inspect_document(name, raw), raw
        except DocumentRejected as exc:
            raise DocumentRejected(f"{name}: {exc}") from None

    def _account_of(self, given: dict[str, Any]) -> str | None:
        if not given.get("access_problem"):
            return None
        try:
            found = self.identity.account_for_email(email=given["contact_email"])
        except Exception as exc:  # the ticket matters more than the link: staff can look up
            log.warning("account lookup failed", error=type(exc).__name__)
            return None
        return found["account_id"] if found else None

    # -- signed-in users -----------------------------------------------------------------------

    @rpc
    def my_tickets(self) -> list[dict[str, Any]]:
        actor = self._signed_in()
        policy = self.tickets.policy()
        calendar = self.tickets.calendar(policy)
        return self.queries.mine(str(actor.account_id), self._now(), calendar, policy)

    @rpc
    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        """The ticket with its history: all of it for staff; its user's view for its user."""
        actor = self._signed_in()
        return self._view(self._visible(ticket_id, actor), actor)

    @rpc
    def ticket_attachment(self, ticket_id: str, document_id: str) -> dict[str, Any]:
        ticket = self._visible(ticket_id, self._signed_in())
        record = next((a for a in ticket.attachments if a["document_id"] == document_id), None)
        content = DocumentStore(self.kernel.db).get(record["sha256"]) if record else None
        if record is None or content is None:
            raise NotFound("There is no such attachment.")
        return {
            "filename": record["filename"],
            "content_type": record["content_type"],
            "content": base64.b64encode(content).decode(),
        }

    @rpc
    def comment_on_ticket(self, ticket_id: str, body: str, internal: bool = False) -> dict:
        """A reply (emailed to the user when staff write it) or, for staff, an internal note."""
        actor = self._signed_in()
        comment_id = str(uuid.uuid4())
        return self._decide(
            ticket_id, actor, lambda t: t.comment(actor, comment_id, body, bool(internal))
        )

    @rpc
    def reopen_ticket(self, ticket_id: str, reason: str) -> dict[str, Any]:
        actor = self._signed_in()
        now, policy = self._now(), self.tickets.policy()
        return self._decide(ticket_id, actor, lambda t: t.reopen(actor, reason, now, policy))

    # -- staff ---------------------------------------------------------------------------------

    @rpc
    def ticket_queue(
        self, status: str = "active", category: str = "", assignee: str = "", min_age_days: int = 0
    ) -> list[dict[str, Any]]:
        self._staff()
        if assignee and assignee != "none":
            try:
                uuid.UUID(assignee)
            except ValueError:
                raise TicketRefused("assignee: Choose a member of staff.") from None
        policy = self.tickets.policy()
        calendar = self.tickets.calendar(policy)
        return self.queries.queue(
            self._now(), calendar, policy, status, category, assignee, max(0, int(min_age_days))
        )

    @rpc
    def categorise_ticket(self, ticket_id: str, category: str) -> dict[str, Any]:
        actor = self._staff()
        return self._decide(ticket_id, actor, lambda t: t.categorise(actor, category))

    @rpc
    def ticket_staff(self) -> list[dict[str, str]]:
        """Whom a ticket may be assigned to: the active help-desk staff and administrators,
        by name, asked of identity with the caller's context (none if they may not list
        accounts: they can still assign to themselves)."""
        self._staff()
        found: list[dict[str, str]] = []
        for role in sorted(STAFF_ROLES):
            for page in range(1, MAX_STAFF_PAGES + 1):
                try:
                    listed = self.identity.list_accounts(status="active", role=role, page=page)
                except RemoteError as exc:
                    if exc.exc_type == "NotAuthorized":
                        return []
                    raise
                found += [
                    {"account_id": a["account_id"], "role_title": a["role_title"],
                     "name": f"{a['first_name']} {a['last_name']}".strip() or a["email"]}
                    for a in listed["accounts"]
                ]  # fmt: skip
                if page * listed["page_size"] >= listed["total"]:
                    break
        return sorted(found, key=lambda a: (a["name"].casefold(), a["account_id"]))

    @rpc
    def assign_ticket(self, ticket_id: str, assignee_id: str | None) -> dict[str, Any]:
        """Assign to a member of staff (the caller, or another: asked of identity), or to
        nobody (None)."""
        actor = self._staff()
        name = ""
        if assignee_id == actor.account_id:
            name = actor.name
        elif assignee_id:
            try:
                uuid.UUID(str(assignee_id))
                account = self.identity.get_account(account_id=str(assignee_id))
            except Exception:
                raise TicketRefused("assignee_id: There is no such account.") from None
            if account["role"] not in STAFF_ROLES or account["status"] != "active":
                raise TicketRefused("assignee_id: Assign tickets to active help-desk staff.")
            name = f"{account['first_name']} {account['last_name']}".strip()
        return self._decide(ticket_id, actor, lambda t: t.assign(actor, assignee_id or None, name))

    @rpc
    def escalate_ticket(self, ticket_id: str, to: str, reason: str) -> dict[str, Any]:
        actor = self._staff()
        return self._decide(ticket_id, actor, lambda t: t.escalate(actor, to, reason))

    @rpc
    def resolve_ticket(self, ticket_id: str, resolution: str) -> dict[str, Any]:
        actor = self._staff()
        return self._decide(ticket_id, actor, lambda t: t.resolve(actor, resolution))

    @rpc
    def close_ticket(self, ticket_id: str, reason: str = "") -> dict[str, Any]:
        actor = self._staff()
        return self._decide(ticket_id, actor, lambda t: t.close(actor, reason))

    @rpc
    def ticket_account_action(self, ticket_id: str, action: str, reason: str) -> dict[str, Any]:
        """Unlock the ticket's account, reset its authenticator, or issue it a new temporary
        password, through identity, naming this ticket: identity checks the caller's
        permission, asks this service whether the ticket is an open access ticket of that
        account (``access_ticket``) and records the action; the ticket records it as an
        internal comment. A temporary password's letter goes to the mail room's queue, never
        back here."""
        actor = self._staff()
        if action not in ACCOUNT_ACTIONS:
            raise TicketRefused(f"action: There is no account action {action!r}.")
        self._require(ACTION_PERMISSIONS[action])
        ticket = self._visible(ticket_id, actor)
        ticket.account_action(actor, action)
        reason = (reason or "").strip() or ACCOUNT_ACTIONS[action]
        rpc_name = {"unlock": "unlock_account", "reset_mfa": "reset_mfa",
                    "temporary_password": "issue_temporary_password"}[action]  # fmt: skip
        try:
            done = getattr(self.identity, rpc_name)(
                account_id=ticket.account_id, reason=reason, ticket_id=ticket_id
            )
        except RemoteError as exc:  # identity's refusal, told as the ticket's
            raise _identity_refusal(exc) from None
        comment_id = str(uuid.uuid4())
        view = self._decide(
            ticket_id,
            actor,
            lambda t: t.comment(actor, comment_id, reason, internal=True, account_action=action),
        )
        log.info("account action from ticket", ticket_id=ticket_id, action=action)
        return {"ticket": view, "outcome": done.get("outcome"), "letter_id": done.get("letter_id")}

    @rpc
    def access_ticket(self, ticket_id: str) -> dict[str, Any]:
        """For identity, asked with the staff member's context before a credential action:
        whose ticket this is, where it stands and whether it reports an access problem."""
        ticket = self._visible(ticket_id, self._staff())
        return {"ticket_id": ticket.ticket_id, "reference": ticket.reference,
                "account_id": ticket.account_id, "status": ticket.status,
                "access_problem": ticket.access_problem}  # fmt: skip

    # -- administrators ------------------------------------------------------------------------

    @rpc
    def helpdesk_policy(self) -> dict[str, Any]:
        self._require(Permission.POLICY_MANAGE)
        return self.tickets.policy().to_json()

    @rpc
    def change_helpdesk_policy(self, policy: dict[str, Any]) -> dict[str, Any]:
        self._require(Permission.POLICY_MANAGE)
        load_or_refuse(PolicySchema(), policy, PolicyRefused)
        changed = HelpdeskPolicy.from_json(policy)
        self.tickets.set_policy(changed)
        return changed.to_json()

    @rpc
    def monthly_report(self, month: str) -> dict[str, Any]:
        """Tickets opened in ``month`` (YYYY-MM, the program's time zone) by category."""
        self._require(Permission.STATISTICS_VIEW)
        policy = self.tickets.policy()
        calendar = self.tickets.calendar(policy)
        try:
            start, end = month_bounds(str(month), calendar)
        except ValueError as exc:
            raise ReportRefused(str(exc)) from None
        opened = self.queries.opened_between(start, end)
        report = monthly_report(str(month), opened, calendar, policy)
        report["csv"] = report_csv(report)
        return report
