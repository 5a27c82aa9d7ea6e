"""A problem ticket: what a user reported, how staff categorised and handled it, its end.

Pure: no I/O, the clock and the policy are given. A ``Ticket`` is folded from its stream
(``ticket-<id>``); each decision method checks the rules against that state and returns the
changes to append, never changing the state itself. Who is acting is an ``Actor``: help-desk
staff (the service has checked ``ticket.manage``) or the user the ticket belongs to.

States: ``open`` (new, or reopened) -> ``escalated`` (handed to the system vendor or the
state IT department; staff keep working on it) -> ``resolved`` -> ``closed``. A resolved
ticket goes back to ``open`` when its user reopens it within the policy's reopen period, or
when staff reopen it; a closed ticket is final. Staff may close a ticket that is not
resolved (a duplicate, a message sent by mistake) only with a reason.

The response target runs from opening to the first response: the first reply staff send
to the user, or the resolution, whichever comes first. Internal comments are not a response.

A ticket opened by someone not signed in names an address nobody has proven: the help desk
writes to it only once the link sent there is used (``TicketContactConfirmed``), so a
stranger's address cannot be made to receive the help desk's mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.helpdesk.business_hours import CATEGORIES, SupportCalendar
from services.helpdesk.policy import CATEGORY_TITLES, HelpdeskPolicy

Change = tuple[str, dict[str, Any]]

OPEN, ESCALATED, RESOLVED, CLOSED = "open", "escalated", "resolved", "closed"
STATUSES = (OPEN, ESCALATED, RESOLVED, CLOSED)
STATUS_TITLES = {OPEN: "Open", ESCALATED: "Escalated", RESOLVED: "Resolved", CLOSED: "Closed"}
ACTIVE = frozenset({OPEN, ESCALATED})

ACCESS_PROBLEMS = {
    "cannot_sign_in": "I cannot sign in",
    "locked": "My account is locked",
    "expired": "My password or access has expired",
}
ESCALATION_TARGETS = {"vendor": "the system vendor", "state_it": "the state IT department"}
ACCOUNT_ACTIONS = {
    "unlock": "Unlocked the account",
    "reset_mfa": "Reset the account's authenticator app",
    "temporary_password": "Queued a new temporary password letter for the post",
}


class TicketError(Exception):
    """A request the ticket's state does not allow; the message says why, to a person."""


class TicketStateConflict(TicketError):
    """The action does not fit where the ticket stands."""


class TicketRefused(TicketError):
    """Something given is missing or not acceptable; the message names it."""


class NotYourTicket(TicketError):
    """A user acting on a ticket that is not theirs (services answer "not found")."""


@dataclass(frozen=True)
class Actor:
    account_id: str | None
    name: str = ""
    staff: bool = False


@dataclass(frozen=True)
class Comment:
    comment_id: str
    body: str
    internal: bool
    from_staff: bool
    author_id: str | None
    author_name: str
    at: datetime
    account_action: str | None = None


def reference(ticket_id: str) -> str:
    """The short number people quote on the phone: T- and the id's first 8 digits."""
    return "T-" + ticket_id.replace("-", "")[:8].upper()


@dataclass
class Ticket:
    ticket_id: str
    version: int = 0
    subject: str = ""
    description: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    account_id: str | None = None  # whose ticket it is: the opener, or the account locked out
    contact_confirmed: bool = True  # False until the link sent to a signed-out opener is used
    access_problem: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    opened_at: datetime | None = None
    status: str = OPEN
    category: str | None = None
    categorised_at: datetime | None = None
    assignee_id: str | None = None
    assignee_name: str = ""
    escalations: list[dict[str, Any]] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str = ""
    closed_at: datetime | None = None

    # -- folding ---------------------------------------------------------------------------

    @classmethod
    def fold(cls, ticket_id: str, events: Sequence[Any]) -> Ticket:
        ticket = cls(ticket_id)
        for event in events:
            ticket.apply(event.type, event.data, event.metadata.occurred_at)
            ticket.version = event.version
        return ticket

    @property
    def exists(self) -> bool:
        return self.opened_at is not None

    @property
    def reference(self) -> str:
        return reference(self.ticket_id)

    def apply(self, kind: str, data: dict[str, Any], at: datetime) -> None:
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(data, at)

    def _on_TicketOpened(self, d: dict, at: datetime) -> None:
        self.subject, self.description = d["subject"], d["description"]
        self.contact_name, self.contact_email = d["contact_name"], d["contact_email"]
        self.contact_phone = d.get("contact_phone") or ""
        self.account_id = d.get("account_id")
        self.access_problem = d.get("access_problem")
        self.attachments = [dict(a) for a in d.get("attachments", [])]
        self.contact_confirmed = d.get("contact_confirmed", True)  # older tickets: signed in
        self.opened_at = at
        self.status = OPEN

    def _on_TicketContactConfirmed(self, d: dict, at: datetime) -> None:
        self.contact_confirmed = True

    def _on_TicketCategorised(self, d: dict, at: datetime) -> None:
        self.category, self.categorised_at = d["category"], at

    def _on_TicketAssigned(self, d: dict, at: datetime) -> None:
        self.assignee_id, self.assignee_name = d.get("assignee_id"), d.get("assignee_name") or ""

    def _on_TicketCommented(self, d: dict, at: datetime) -> None:
        comment = Comment(
            comment_id=d["comment_id"],
            body=d["body"],
            internal=d["internal"],
            from_staff=d["from_staff"],
            author_id=d.get("author_id"),
            author_name=d.get("author_name") or "",
            at=at,
            account_action=d.get("account_action"),
        )
        self.comments.append(comment)
        if comment.from_staff and not comment.internal and self.first_response_at is None:
            self.first_response_at = at

    def _on_TicketEscalated(self, d: dict, at: datetime) -> None:
        self.escalations.append({"to": d["to"], "reason": d["reason"], "at": at})
        self.status = ESCALATED

    def _on_TicketResolved(self, d: dict, at: datetime) -> None:
        self.status, self.resolved_at, self.resolution = RESOLVED, at, d["resolution"]
        if self.first_response_at is None:
            self.first_response_at = at

    def _on_TicketReopened(self, d: dict, at: datetime) -> None:
        self.status = OPEN

    def _on_TicketClosed(self, d: dict, at: datetime) -> None:
        self.status, self.closed_at = CLOSED, at

    # -- who sees what ---------------------------------------------------------------------

    def visible_to(self, actor: Actor) -> bool:
        return actor.staff or (actor.account_id is not None and actor.account_id == self.account_id)

    def comments_for(self, actor: Actor) -> list[Comment]:
        """Every comment for staff; a user never sees internal ones."""
        return [c for c in self.comments if actor.staff or not c.internal]

    @property
    def escalated_to(self) -> str | None:
        return self.escalations[-1]["to"] if self.status == ESCALATED else None

    # -- targets ---------------------------------------------------------------------------

    def deadline(self, calendar: SupportCalendar, policy: HelpdeskPolicy) -> datetime | None:
        """When the first response falls due; None until the ticket is categorised."""
        if self.category is None or self.opened_at is None:
            return None
        return calendar.deadline(self.opened_at, policy.target(self.category), self.category)

    def past_target(self, calendar: SupportCalendar, policy: HelpdeskPolicy, now: datetime) -> bool:
        """True if the first response came, or is still awaited, after the deadline."""
        due = self.deadline(calendar, policy)
        return due is not None and (self.first_response_at or now) > due

    # -- decisions -------------------------------------------------------------------------

    @staticmethod
    def open(
        ticket_id: str,
        subject: str,
        description: str,
        contact: dict[str, str],
        account_id: str | None = None,
        access_problem: str | None = None,
        attachments: Sequence[dict[str, Any]] = (),
        contact_confirmed: bool = True,
    ) -> list[Change]:
        """``contact_confirmed``: False when the opener is not signed in (nobody has proven
        the address yet)."""
        subject, description = (subject or "").strip(), (description or "").strip()
        if not subject:
            raise TicketRefused("subject: Say in a few words what the problem is.")
        if not description:
            raise TicketRefused("description: Describe the problem: what you did, what happened.")
        email = (contact.get("email") or "").strip()
        if "@" not in email:
            raise TicketRefused("contact_email: Give an email address we can answer you at.")
        if access_problem is not None and access_problem not in ACCESS_PROBLEMS:
            raise TicketRefused(
                "access_problem: Choose one of: " + ", ".join(ACCESS_PROBLEMS.values()) + "."
            )
        return [
            (
                "TicketOpened",
                {
                    "ticket_id": ticket_id,
                    "subject": subject,
                    "description": description,
                    "contact_name": (contact.get("name") or "").strip(),
                    "contact_email": email.lower(),
                    "contact_phone": (contact.get("phone") or "").strip(),
                    "account_id": account_id,
                    "access_problem": access_problem,
                    "attachments": [dict(a) for a in attachments],
                    "contact_confirmed": contact_confirmed,
                },
            )
        ]

    def confirm_contact(self) -> list[Change]:
        """The link sent to the contact address was used; a second use changes nothing."""
        return [] if self.contact_confirmed else [("TicketContactConfirmed", {})]

    def categorise(self, actor: Actor, category: str) -> list[Change]:
        self._staff(actor, "categorise tickets")
        self._not_closed()
        if category not in CATEGORIES:
            titles = ", ".join(CATEGORY_TITLES.values())
            raise TicketRefused(f"category: Choose one of the four categories: {titles}.")
        if category == self.category:
            raise TicketStateConflict(f"The ticket is already {CATEGORY_TITLES[category]}.")
        return [("TicketCategorised", {"category": category, "previous": self.category})]

    def assign(self, actor: Actor, assignee_id: str | None, assignee_name: str) -> list[Change]:
        self._staff(actor, "assign tickets")
        self._not_closed()
        if assignee_id == self.assignee_id:
            who = self.assignee_name or "nobody"
            raise TicketStateConflict(f"The ticket is already assigned to {who}.")
        name = assignee_name if assignee_id else ""
        return [("TicketAssigned", {"assignee_id": assignee_id, "assignee_name": name})]

    def comment(
        self,
        actor: Actor,
        comment_id: str,
        body: str,
        internal: bool = False,
        account_action: str | None = None,
    ) -> list[Change]:
        self._own_or_staff(actor)
        self._not_closed()
        body = (body or "").strip()
        if not body:
            raise TicketRefused("body: Write the comment.")
        if internal and not actor.staff:
            raise TicketRefused("internal: Only help-desk staff write internal comments.")
        if account_action is not None:
            self._staff(actor, "act on accounts")
            if account_action not in ACCOUNT_ACTIONS:
                raise TicketRefused(f"account_action: There is no action {account_action!r}.")
        return [
            (
                "TicketCommented",
                {
                    "comment_id": comment_id,
                    "body": body,
                    "internal": bool(internal),
                    "from_staff": actor.staff,
                    "author_id": actor.account_id,
                    "author_name": actor.name,
                    "account_action": account_action,
                },
            )
        ]

    def account_action(self, actor: Actor, action: str) -> None:
        """Refuse before the identity service is asked: staff, a linked account, not closed."""
        self._staff(actor, "act on accounts")
        self._not_closed()
        if action not in ACCOUNT_ACTIONS:
            raise TicketRefused(f"action: There is no account action {action!r}.")
        if self.account_id is None:
            raise TicketStateConflict(
                "This ticket is not linked to an account: no account has the address the "
                "user gave, and they were not signed in."
            )

    def escalate(self, actor: Actor, to: str, reason: str) -> list[Change]:
        self._staff(actor, "escalate tickets")
        self._active("escalated")
        if to not in ESCALATION_TARGETS:
            raise TicketRefused("to: Escalate to the system vendor or the state IT department.")
        reason = (reason or "").strip()
        if not reason:
            raise TicketRefused("reason: Say why the help desk cannot solve this.")
        if self.escalated_to == to:
            raise TicketStateConflict(
                f"The ticket is already escalated to {ESCALATION_TARGETS[to]}."
            )
        return [("TicketEscalated", {"to": to, "reason": reason})]

    def resolve(self, actor: Actor, resolution: str) -> list[Change]:
        self._staff(actor, "resolve tickets")
        self._active("resolved")
        if self.category is None:
            raise TicketStateConflict("Categorise the ticket before resolving it.")
        resolution = (resolution or "").strip()
        if not resolution:
            raise TicketRefused("resolution: Say how the problem was solved.")
        return [("TicketResolved", {"resolution": resolution})]

    def reopen(
        self, actor: Actor, reason: str, now: datetime, policy: HelpdeskPolicy
    ) -> list[Change]:
        self._own_or_staff(actor)
        if self.status == CLOSED:
            raise TicketStateConflict(
                "This ticket is closed and cannot be reopened; open a new ticket and quote "
                f"{self.reference}."
            )
        if self.status != RESOLVED:
            raise TicketStateConflict("Only a resolved ticket can be reopened; this one is open.")
        reason = (reason or "").strip()
        if not reason:
            raise TicketRefused("reason: Say what is still wrong.")
        until = self.reopen_until(policy)
        if not actor.staff and until is not None and now > until:
            raise TicketStateConflict(
                f"This ticket could be reopened for {policy.reopen_days} days after it was "
                f"resolved, until {until:%B %-d, %Y %H:%M} UTC. Open a new ticket and quote "
                f"{self.reference}."
            )
        return [("TicketReopened", {"reason": reason, "by_staff": actor.staff})]

    def reopen_until(self, policy: HelpdeskPolicy) -> datetime | None:
        if self.status != RESOLVED or self.resolved_at is None:
            return None
        return self.resolved_at + timedelta(days=policy.reopen_days)

    def close(self, actor: Actor, reason: str) -> list[Change]:
        self._staff(actor, "close tickets")
        self._not_closed()
        reason = (reason or "").strip()
        if self.status != RESOLVED and not reason:
            raise TicketRefused(
                "reason: This ticket is not resolved; say why it is closed (a duplicate, "
                "sent by mistake)."
            )
        return [("TicketClosed", {"reason": reason, "was": self.status})]

    # -- rules shared by the decisions -----------------------------------------------------

    def _staff(self, actor: Actor, what: str) -> None:
        if not actor.staff:
            raise NotYourTicket(f"Only help-desk staff {what}.")

    def _own_or_staff(self, actor: Actor) -> None:
        if not self.visible_to(actor):
            raise NotYourTicket("There is no such ticket.")

    def _not_closed(self) -> None:
        if self.status == CLOSED:
            raise TicketStateConflict("This ticket is closed; nothing more can be done on it.")

    def _active(self, what: str) -> None:
        self._not_closed()
        if self.status not in ACTIVE:
            raise TicketStateConflict(
                f"This ticket is {STATUS_TITLES[self.status].lower()}; only an open or "
                f"escalated ticket can be {what}."
            )
