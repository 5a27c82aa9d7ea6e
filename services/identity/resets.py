"""Who may reset whose credentials: the one table for temporary passwords, unlocking and
MFA resets, by the actor's role, the target account's role and the action. Pure.

Identity enforces it (every RPC that resets credentials asks ``ruling`` first) and the
gateway shows only the actions it allows. A temporary password is what an attacker wants
most, so the table is narrow: the help desk serves registrants only, and only from an open
access ticket of that very account; staff accounts are reset by an administrator; an
administrator's password or authenticator is reset only when a second administrator agrees;
nobody resets their own account this way (they have the self-service reset).
"""

from __future__ import annotations

from enum import StrEnum

from services.identity.roles import Permission, Role


class CredentialAction(StrEnum):
    TEMPORARY_PASSWORD = "temporary_password"
    UNLOCK = "unlock"
    RESET_MFA = "reset_mfa"

    @property
    def title(self) -> str:
        return ACTION_TITLES[self]


ACTION_TITLES = {
    CredentialAction.TEMPORARY_PASSWORD: "a new temporary password",
    CredentialAction.UNLOCK: "unlocking",
    CredentialAction.RESET_MFA: "an authenticator reset",
}

# The role permission each action needs before the table is asked at all.
ACTION_PERMISSIONS = {
    CredentialAction.TEMPORARY_PASSWORD: Permission.USER_TEMPORARY_PASSWORD,
    CredentialAction.UNLOCK: Permission.USER_UNLOCK,
    CredentialAction.RESET_MFA: Permission.USER_UNLOCK,
}


class Ruling(StrEnum):
    ALLOWED = "allowed"
    NEEDS_TICKET = "needs_ticket"  # an open access ticket of the same account, named
    NEEDS_APPROVAL = "needs_approval"  # a second, different administrator carries it out
    REFUSED = "refused"


# People outside the program's staff: their letters go by post to the address on file.
REGISTRANT_ROLES = frozenset(
    {
        Role.PRESCRIBER,
        Role.PHARMACIST,
        Role.DELEGATE,
        Role.LAW_ENFORCEMENT,
        Role.LAW_ENFORCEMENT_MM,
        Role.DATA_SUBMITTER,
        Role.APPLICANT,
    }
)
STAFF_ROLES = frozenset({Role.ADMINISTRATOR, Role.AUDITOR, Role.HELPDESK})

# The actions on an administrator that another administrator must approve: those that hand
# over the account (unlocking leaves the password and authenticator as they were).
SECOND_ADMINISTRATOR = frozenset({CredentialAction.TEMPORARY_PASSWORD, CredentialAction.RESET_MFA})

APPROVAL_HOURS = 24  # a request for a second administrator lapses after this


def ruling(actor_role: str | None, target_role: str | None, action: str, own: bool) -> Ruling:
    """What the table says of ``actor_role`` doing ``action`` to an account of
    ``target_role`` (``own``: the actor's own account)."""
    if own or action not in set(CredentialAction) or target_role not in set(Role):
        return Ruling.REFUSED
    if actor_role == Role.HELPDESK:
        return Ruling.NEEDS_TICKET if target_role in REGISTRANT_ROLES else Ruling.REFUSED
    if actor_role == Role.ADMINISTRATOR:
        if target_role == Role.ADMINISTRATOR and action in SECOND_ADMINISTRATOR:
            return Ruling.NEEDS_APPROVAL
        return Ruling.ALLOWED
    return Ruling.REFUSED


def refusal(actor_role: str | None, target_role: str | None, action: str, own: bool) -> str:
    """Why the table refuses, in words for the person refused."""
    what = CredentialAction(action).title if action in set(CredentialAction) else action
    if own:
        return f"Nobody gives their own account {what}: use the self-service reset."
    if actor_role == Role.HELPDESK:
        return f"The help desk cannot give a staff account {what}: only an administrator may."
    return f"Your role may not give this account {what}."


def delivery(target_role: str) -> str:
    """How a temporary password reaches the account's holder: registrants by post to the
    address on file (the mail room's queue); staff, who have no postal address of their own
    with the program, in hand from the administrator who carried out the reset."""
    return "post" if target_role in REGISTRANT_ROLES else "in_hand"


def may_decide_request(actor_role: str | None, actor_id: str, requester_id: str, target_id: str,
                       approve: bool) -> str | None:  # fmt: skip
    """Why ``actor_id`` may not approve (or decline) a pending reset of an administrator;
    None if they may. The requester may withdraw their own request, never approve it."""
    if actor_role != Role.ADMINISTRATOR:
        return "Only administrators decide on resets of administrators."
    if actor_id == target_id:
        return "Nobody decides on a reset of their own account."
    if approve and actor_id == requester_id:
        return "A second administrator must approve: you asked for this reset yourself."
    return None


OPEN_TICKET = frozenset({"open", "escalated"})  # still being worked on


def ticket_problem(ticket: dict | None, account_id: str) -> str | None:
    """Why ``ticket`` (the help desk's answer, or None if it has no such ticket) does not
    let the help desk act on ``account_id``; None when it does: open, about an access
    problem, and linked to that very account."""
    if ticket is None:
        return "There is no such help desk ticket."
    reference = ticket["reference"]
    if ticket["status"] not in OPEN_TICKET:
        return f"Ticket {reference} is {ticket['status']}: act only from an open ticket."
    if not ticket.get("access_problem"):
        return f"Ticket {reference} is not about signing in: act only from an access ticket."
    if ticket.get("account_id") != account_id:
        return f"Ticket {reference} is not about this account."
    return None


NO_TICKET = (
    "The help desk acts on an account only from an open access ticket of that account: "
    "name the ticket (ticket_id)."
)
