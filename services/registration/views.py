"""What the registration's RPCs return: the application as its owner and the program see
it, and its history in words."""

from __future__ import annotations

from typing import Any

from pmp.envelope import RecordedEvent
from services.identity.roles import ROLE_TITLES, Role
from services.registration.domain import STATUS_TITLES, Registration


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def application_view(r: Registration) -> dict[str, Any]:
    documents = sorted(r.documents.values(), key=lambda d: d["uploaded_at"])
    return {
        "account_id": r.account_id,
        "email": r.email,
        "role": r.role,
        "role_title": ROLE_TITLES[Role(r.role)],
        "status": r.status,
        "status_title": STATUS_TITLES[r.status],
        "kind": r.kind,
        "email_verified": r.email_verified,
        "verification_sent_at": _iso(r.verification_sent_at),
        "form": dict(r.form),
        "documents": [
            {
                "document_id": d["document_id"],
                "filename": d["filename"],
                "content_type": d["content_type"],
                "size": d["size"],
                "description": d["description"],
                "uploaded_at": d["uploaded_at"],
            }
            for d in documents
        ],
        "agreement": dict(r.agreement) if r.agreement else None,
        "supervisor": dict(r.supervisor) if r.supervisor else None,
        "steps": r.steps(),
        "missing": r.missing(),
        "can_submit": r.editable and not r.missing(),
        "editable": r.editable,
        "started_at": _iso(r.started_at),
        "submitted_at": _iso(r.submitted_at),
        "decided_at": _iso(r.decided_at),
        "approved_at": _iso(r.approved_at),
        "renewal_due": _iso(r.renewal_due),
        "information_request": r.information_request,
        "rejection_reason": r.rejection_reason,
        "profile_change": dict(r.profile_change) if r.profile_change else None,
    }


EVENT_WORDS = {
    "ApplicationStarted": "Application started",
    "RoleChosen": "Role chosen",
    "VerificationEmailRequested": "Verification email sent",
    "EmailVerified": "Email address verified",
    "FormSaved": "Registration form saved",
    "DocumentAttached": "Document uploaded",
    "DocumentRemoved": "Document removed",
    "AgreementAccepted": "User Agreement accepted",
    "ApplicationSubmitted": "Submitted",
    "SupervisorApproved": "Approved by the supervisor",
    "SupervisorDeclined": "Declined by the supervisor",
    "InformationRequested": "More information requested",
    "ApplicationApproved": "Approved",
    "ApplicationRejected": "Rejected",
    "IncompleteReminderIssued": "Reminder sent: application unfinished",
    "ApplicationClosedIncomplete": "Closed: not completed in time",
    "RenewalDateSet": "Renewal date changed",
    "RenewalReminderIssued": "Renewal reminder sent",
    "RegistrationLapsed": "Renewal date reached: access to patient data stopped",
    "RenewalStarted": "Renewal started",
    "ProfileChangeRequested": "Profile change requested",
    "ProfileChangeApproved": "Profile change approved",
    "ProfileChangeRejected": "Profile change rejected",
}

_DETAIL_KEYS = ("role", "reason", "message", "filename", "version", "renewal_due", "kind")


def history_view(events: list[RecordedEvent]) -> list[dict[str, Any]]:
    """Every event of the registration, oldest first, in words an administrator reads."""
    return [
        {
            "type": e.type,
            "title": EVENT_WORDS.get(e.type, e.type),
            "at": e.metadata.occurred_at.isoformat(),
            "actor_id": e.metadata.actor_id,
            "actor_role": e.metadata.actor_role,
            "details": {k: e.data[k] for k in _DETAIL_KEYS if e.data.get(k)},
        }
        for e in events
    ]
