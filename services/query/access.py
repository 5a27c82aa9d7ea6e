"""Who may search and report, for what attested purpose; pure rules, no I/O.

The policy manual: a prescriber searches a current patient under their care, a pharmacist a
patient at their counter, a delegate on behalf of the supervisor who approved them (both
names recorded), law enforcement with prescription access for an active investigation with
its case number. Registry-only law enforcement, and anyone whose role or current standing
lacks the permission, is refused (``roles.py`` is the table; identity withholds patient data
from a user whose renewal is due).
"""

from __future__ import annotations

from typing import Any

from services.identity.roles import NotAuthorized, Role
from services.query.schemas import PURPOSES

#: The purpose a role attests; a delegate attests their supervisor's.
PURPOSE_OF_ROLE = {
    Role.PRESCRIBER: "treating",
    Role.PHARMACIST: "dispensing",
    Role.LAW_ENFORCEMENT: "investigation",
}


class SearchRefused(ValueError):
    """The search or its attestation is not acceptable; the message names the field."""


def attested_purpose(
    role: str, purpose: dict[str, Any], supervisor: dict[str, Any] | None
) -> dict[str, str]:
    """The purpose to record: the kind the role (or a delegate's supervisor) attests, its
    wording, and a law-enforcement case number."""
    acting_role = supervisor["role"] if role == Role.DELEGATE and supervisor else role
    expected = PURPOSE_OF_ROLE.get(acting_role)
    if expected is None:
        raise SearchRefused("Your role may not search patients.")
    if purpose["kind"] != expected:
        raise SearchRefused(f"purpose: attest '{PURPOSES[expected]}' to search.")
    case_number = (purpose.get("case_number") or "").strip()
    if expected == "investigation" and not case_number:
        raise SearchRefused("case_number: law enforcement searches need the case number.")
    return {"kind": expected, "text": PURPOSES[expected], "case_number": case_number}


def approved_supervisor(registration: dict[str, Any] | None) -> dict[str, Any]:
    """A delegate's supervisor, from the delegate's registration, once the supervisor has
    approved them; a delegate without one may not search."""
    supervisor = (registration or {}).get("supervisor") or {}
    if supervisor.get("decision") != "approved" or not supervisor.get("account_id"):
        raise NotAuthorized("A delegate searches only once their supervisor has approved them.")
    return {
        "account_id": str(supervisor["account_id"]),
        "name": supervisor.get("name") or "",
        "role": supervisor.get("role") or "",
    }
