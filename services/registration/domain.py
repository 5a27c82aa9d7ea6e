"""A person's registration with the program: application, vetting, approval and renewal.

Pure: no I/O. One ``Registration`` per account, folded from its stream, holds the whole
record the program keeps: the form, the documents, the agreement accepted, the
correspondence and every decision, through renewals and profile changes. Each decision
method checks the rules against that state and the clock it is given and returns the
changes to append; it never changes the state itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from services.identity.roles import Role

Change = tuple[str, dict[str, Any]]

DRAFT = "draft"
AWAITING_SUPERVISOR = "awaiting_supervisor"
SUBMITTED = "submitted"
INFORMATION_REQUESTED = "information_requested"
APPROVED = "approved"
REJECTED = "rejected"
CLOSED_INCOMPLETE = "closed_incomplete"

STATUS_TITLES = {
    DRAFT: "Not yet submitted",
    AWAITING_SUPERVISOR: "Waiting for your supervisor",
    SUBMITTED: "Waiting for an administrator",
    INFORMATION_REQUESTED: "More information requested",
    APPROVED: "Approved",
    REJECTED: "Rejected",
    CLOSED_INCOMPLETE: "Closed: not completed in time",
}

EDITABLE = frozenset({DRAFT, INFORMATION_REQUESTED})
ENDED = frozenset({REJECTED, CLOSED_INCOMPLETE})
MAX_DOCUMENTS = 10


class RegistrationError(Exception):
    """A request the registration's state does not allow; the message says why, to a person."""


class ApplicationStateConflict(RegistrationError):
    """The action does not fit where the application stands."""


class ApplicationIncomplete(RegistrationError):
    """Submitted before every step was done; the message lists what is missing."""


class NoSuchDocument(RegistrationError):
    """The application holds no document with this id."""


class FormInvalid(RegistrationError):
    """The form has mistakes; the message names each field with what is wrong."""


class LinkInvalid(RegistrationError):
    """A verification link that is unknown, expired, replaced or already used."""


class AgreementOutdated(RegistrationError):
    """The agreement accepted is not the current version."""


@dataclass(frozen=True)
class RegistrationPolicy:
    """The configurable rules: from settings, and the renewal years from the policy stream."""

    verification_hours: int = 48
    reminder_days: int = 7
    close_days: int = 30
    renewal_reminder_days: tuple[int, ...] = (60, 30, 7)
    default_years: int = 2
    years_by_role: dict[str, int] = field(default_factory=dict)
    timezone: tzinfo | None = None

    def years(self, role: str) -> int:
        return self.years_by_role.get(role, self.default_years)

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.timezone).date() if self.timezone else at.date()


def renewal_date(approved_on: date, years: int) -> date:
    """``years`` after ``approved_on``; 29 February falls back to the 28th."""
    try:
        return approved_on.replace(year=approved_on.year + years)
    except ValueError:
        return approved_on.replace(year=approved_on.year + years, day=28)


@dataclass
class Registration:
    account_id: str
    version: int = 0
    email: str = ""
    role: str = ""
    status: str = DRAFT
    kind: str = "application"  # or "renewal"
    started_at: datetime | None = None
    last_activity_at: datetime | None = None  # the applicant's last step, for reminders
    email_verified: bool = False
    verification_id: str | None = None
    verification_expires_at: datetime | None = None
    verification_sent_at: datetime | None = None
    used_verifications: set[str] = field(default_factory=set)
    form: dict[str, Any] = field(default_factory=dict)
    form_attested: bool = False  # saved since the application or renewal began
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    agreement: dict[str, Any] | None = None
    supervisor: dict[str, Any] | None = None
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    approved_at: datetime | None = None
    approved_role: str | None = None
    renewal_due: date | None = None
    information_request: str | None = None
    rejection_reason: str | None = None
    reminders: set[str] = field(default_factory=set)
    profile_change: dict[str, Any] | None = None

    # -- folding ---------------------------------------------------------------------------

    @classmethod
    def fold(cls, account_id: str, events: Sequence[Any]) -> Registration:
        registration = cls(account_id)
        for event in events:
            registration.apply(event.type, event.data, event.metadata.occurred_at)
            registration.version = event.version
        return registration

    @property
    def exists(self) -> bool:
        return self.version > 0 and bool(self.role)

    @property
    def editable(self) -> bool:
        return self.status in EDITABLE

    @property
    def full_name(self) -> str:
        return f"{self.form.get('first_name', '')} {self.form.get('last_name', '')}".strip()

    def apply(self, kind: str, data: dict[str, Any], at: datetime) -> None:
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(data, at)

    def _on_ApplicationStarted(self, d: dict, at: datetime) -> None:
        approved = (self.approved_at, self.approved_role, self.renewal_due, self.reminders)
        self.__init__(self.account_id, version=self.version)  # a fresh start after an end
        self.approved_at, self.approved_role, self.renewal_due, self.reminders = approved
        self.email, self.role = d["email"], d["role"]
        self.started_at = self.last_activity_at = at

    def _on_RoleChosen(self, d: dict, at: datetime) -> None:
        self.role = d["role"]
        self.form, self.supervisor, self.form_attested = {}, None, False
        self.last_activity_at = at

    def _on_VerificationEmailRequested(self, d: dict, at: datetime) -> None:
        self.email = d["email"]
        self.verification_id = d["verification_id"]
        self.verification_expires_at = datetime.fromisoformat(d["expires_at"])
        self.verification_sent_at = at

    def _on_EmailVerified(self, d: dict, at: datetime) -> None:
        self.email_verified = True
        self.used_verifications.add(d["verification_id"])
        self.last_activity_at = at

    def _on_FormSaved(self, d: dict, at: datetime) -> None:
        self.form = dict(d["form"])
        self.form_attested = True
        self.supervisor = dict(d["supervisor"]) if d.get("supervisor") else None
        self.last_activity_at = at

    def _on_DocumentAttached(self, d: dict, at: datetime) -> None:
        self.documents[d["document_id"]] = {**d, "uploaded_at": at.isoformat()}
        self.last_activity_at = at

    def _on_DocumentRemoved(self, d: dict, at: datetime) -> None:
        self.documents.pop(d["document_id"], None)
        self.last_activity_at = at

    def _on_AgreementAccepted(self, d: dict, at: datetime) -> None:
        self.agreement = {"version": d["version"], "accepted_at": at.isoformat()}
        self.last_activity_at = at

    def _on_ApplicationSubmitted(self, d: dict, at: datetime) -> None:
        self.submitted_at = at
        self.information_request = None
        if self.supervisor is not None and d.get("supervisor_account_id"):
            self.supervisor = {**self.supervisor, "decision": "pending", "reason": None}
            self.status = AWAITING_SUPERVISOR
        else:
            self.status = SUBMITTED

    def _on_SupervisorApproved(self, d: dict, at: datetime) -> None:
        self.supervisor = {**(self.supervisor or {}), "decision": "approved", "reason": None}
        self.status = SUBMITTED

    def _on_SupervisorDeclined(self, d: dict, at: datetime) -> None:
        self.supervisor = {**(self.supervisor or {}), "decision": "declined", "reason": d["reason"]}
        self.status, self.rejection_reason, self.decided_at = REJECTED, d["reason"], at

    def _on_InformationRequested(self, d: dict, at: datetime) -> None:
        self.status, self.information_request = INFORMATION_REQUESTED, d["message"]
        self.last_activity_at = at

    def _on_ApplicationApproved(self, d: dict, at: datetime) -> None:
        self.status, self.decided_at, self.approved_at = APPROVED, at, at
        self.approved_role = d["role"]
        self.renewal_due = date.fromisoformat(d["renewal_due"])

    def _on_ApplicationRejected(self, d: dict, at: datetime) -> None:
        self.status, self.rejection_reason, self.decided_at = REJECTED, d["reason"], at

    def _on_IncompleteReminderIssued(self, d: dict, at: datetime) -> None:
        self.reminders.add(d["key"])

    def _on_ApplicationClosedIncomplete(self, d: dict, at: datetime) -> None:
        self.status, self.decided_at = CLOSED_INCOMPLETE, at

    def _on_RenewalDateSet(self, d: dict, at: datetime) -> None:
        self.renewal_due = date.fromisoformat(d["renewal_due"])

    def _on_RenewalReminderIssued(self, d: dict, at: datetime) -> None:
        self.reminders.add(d["key"])

    def _on_RegistrationLapsed(self, d: dict, at: datetime) -> None:
        self.reminders.add(d["key"])

    def _on_RenewalStarted(self, d: dict, at: datetime) -> None:
        self.kind, self.status = "renewal", DRAFT
        self.agreement = None  # re-attested at every renewal, as are the details
        self.form_attested = False
        if self.supervisor is not None:  # a delegate's supervisor confirms every renewal
            self.supervisor = {**self.supervisor, "decision": None, "reason": None}
        self.information_request = self.rejection_reason = None
        self.last_activity_at = at

    def _on_ProfileChangeRequested(self, d: dict, at: datetime) -> None:
        self.profile_change = {"changes": dict(d["changes"]), "requested_at": at.isoformat()}

    def _on_ProfileChangeApproved(self, d: dict, at: datetime) -> None:
        self.form = {**self.form, **(self.profile_change or {}).get("changes", {})}
        self.profile_change = None

    def _on_ProfileChangeRejected(self, d: dict, at: datetime) -> None:
        self.profile_change = None

    # -- questions ---------------------------------------------------------------------------

    def missing(self) -> list[str]:
        """What still stops the application from being submitted, in words."""
        missing = []
        if not self.email_verified:
            missing.append("Verify your email address with the link we sent you.")
        if not self.form:
            missing.append("Fill in the registration form.")
        elif not self.form_attested:
            missing.append("Check your registration form and save it, to confirm your details.")
        if not self.documents and self.kind == "application":
            missing.append("Upload a copy of a government photo ID.")
        if self.agreement is None:
            missing.append("Read and accept the User Agreement.")
        return missing

    def steps(self) -> list[dict[str, Any]]:
        return [
            {"key": "email", "title": "Verify your email address", "done": self.email_verified},
            {"key": "form", "title": "Fill in the registration form", "done": self.form_attested},
            {
                "key": "documents",
                "title": "Upload supporting documents",
                "done": bool(self.documents) or self.kind == "renewal",
            },
            {
                "key": "agreement",
                "title": "Accept the User Agreement",
                "done": self.agreement is not None,
            },
        ]

    # -- the applicant's decisions ----------------------------------------------------------

    def start(
        self, email: str, role: str, verification_id: str, now: datetime, policy: RegistrationPolicy
    ) -> list[Change]:
        _require(
            not self.exists or self.status in ENDED,
            "You already have an application; continue it instead.",
        )
        return [
            ("ApplicationStarted", {"email": email, "role": str(Role(role))}),
            self._verification(email, verification_id, now, policy),
        ]

    def _verification(
        self, email: str, verification_id: str, now: datetime, policy: RegistrationPolicy
    ) -> Change:
        expires = now + timedelta(hours=policy.verification_hours)
        requested = {"verification_id": verification_id, "email": email}
        return ("VerificationEmailRequested", {**requested, "expires_at": expires.isoformat()})

    def choose_role(self, role: str) -> list[Change]:
        self._editable()
        _require(self.kind == "application", "A renewal keeps the role that was approved.")
        if role == self.role:
            return []
        return [("RoleChosen", {"role": str(Role(role))})]

    def resend_verification(
        self, verification_id: str, now: datetime, policy: RegistrationPolicy
    ) -> list[Change]:
        _require(not self.email_verified, "Your email address is already verified.")
        return [self._verification(self.email, verification_id, now, policy)]

    def verify_email(self, verification_id: str, now: datetime) -> list[Change]:
        if verification_id in self.used_verifications:
            raise LinkInvalid("This link was already used: your email address is verified.")
        if verification_id != self.verification_id:
            raise LinkInvalid("This link was replaced by a newer one; use the latest email.")
        if self.verification_expires_at is None or now >= self.verification_expires_at:
            raise LinkInvalid("This link has expired; ask for a new one on your application.")
        return [("EmailVerified", {"verification_id": verification_id})]

    def save_form(self, form: dict[str, Any], supervisor: dict[str, Any] | None) -> list[Change]:
        self._editable()
        saved: dict[str, Any] = {"form": form}
        if supervisor is not None:
            saved["supervisor"] = supervisor
        return [("FormSaved", saved)]

    def attach_document(self, document: dict[str, Any]) -> list[Change]:
        self._editable()
        _require(
            len(self.documents) < MAX_DOCUMENTS,
            f"An application holds at most {MAX_DOCUMENTS} documents; remove one first.",
        )
        return [("DocumentAttached", document)]

    def remove_document(self, document_id: str) -> list[Change]:
        self._editable()
        if document_id not in self.documents:
            raise NoSuchDocument("There is no such document on your application.")
        return [("DocumentRemoved", {"document_id": document_id})]

    def accept_agreement(self, version: str, current: str, client: str) -> list[Change]:
        self._editable()
        if version != current:
            raise AgreementOutdated(
                "The User Agreement has changed since you opened it; read the current version."
            )
        return [("AgreementAccepted", {"version": version, "client": client})]

    def submit(self) -> list[Change]:
        self._editable()
        missing = self.missing()
        if missing:
            raise ApplicationIncomplete("Not yet: " + " ".join(missing))
        submitted: dict[str, Any] = {"kind": self.kind}
        needs_supervisor = (
            self.supervisor is not None and self.supervisor.get("decision") != "approved"
        )
        if needs_supervisor and self.supervisor is not None:
            submitted["supervisor_account_id"] = self.supervisor["account_id"]
        return [("ApplicationSubmitted", submitted)]

    def start_renewal(self) -> list[Change]:
        _require(
            self.kind != "renewal"
            or self.status not in {*EDITABLE, SUBMITTED, AWAITING_SUPERVISOR},
            "Your renewal is under way.",
        )
        _require(
            self.approved_at is not None and self.status in {APPROVED, REJECTED},
            "Only an approved registration can be renewed.",
        )
        return [("RenewalStarted", {"renewal_due": _iso(self.renewal_due)})]

    def request_profile_change(self, changes: dict[str, str]) -> list[Change]:
        _require(self.status == APPROVED, "Profile changes are for approved registrations.")
        _require(self.profile_change is None, "Your earlier change request is still pending.")
        _require(bool(changes), "Change at least one field.")
        return [("ProfileChangeRequested", {"changes": changes})]

    def _editable(self) -> None:
        _require(self.exists, "Start an application first.")
        _require(
            self.editable,
            "Your application is with the program for review and cannot be changed now.",
        )

    # -- supervisors' and administrators' decisions -------------------------------------------

    def supervisor_decides(self, supervisor_id: str, approve: bool, reason: str) -> list[Change]:
        _require(self.status == AWAITING_SUPERVISOR, "This application is not waiting for you.")
        _require(
            self.supervisor is not None and self.supervisor["account_id"] == supervisor_id,
            "Only the supervisor the delegate named can decide.",
        )
        if approve:
            return [("SupervisorApproved", {"supervisor_account_id": supervisor_id})]
        _require(len(reason.strip()) >= 3, "Say why you decline, for the applicant.")
        return [("SupervisorDeclined", {"supervisor_account_id": supervisor_id, "reason": reason})]

    def request_information(self, message: str) -> list[Change]:
        self._awaiting_review()
        return [("InformationRequested", {"message": message})]

    def approve(self, now: datetime, policy: RegistrationPolicy) -> list[Change]:
        self._awaiting_review()
        years = policy.years(self.role)
        due = renewal_date(policy.local_date(now), years)
        approved = {
            "kind": self.kind,
            "role": self.role,
            "years": years,
            "renewal_due": due.isoformat(),
            "first_name": self.form["first_name"],
            "last_name": self.form["last_name"],
            "address_lines": self.address_lines(),
        }
        return [("ApplicationApproved", approved)]

    def reject(self, reason: str) -> list[Change]:
        self._awaiting_review()
        return [("ApplicationRejected", {"reason": reason})]

    def decide_profile_change(self, approve: bool, reason: str) -> list[Change]:
        _require(self.profile_change is not None, "There is no pending profile change.")
        if approve:
            return [("ProfileChangeApproved", {"changes": self.profile_change["changes"]})]
        return [("ProfileChangeRejected", {"reason": reason})]

    def _awaiting_review(self) -> None:
        _require(self.status == SUBMITTED, "This application is not waiting for a decision.")

    def address_lines(self) -> list[str]:
        f = self.form
        city = f"{f.get('city', '')}, {f.get('state', '')} {f.get('zip', '')}".strip(" ,")
        lines = [f.get("address_line1", ""), f.get("address_line2", ""), city]
        return [line for line in lines if line]

    # -- the clock's decisions (the sweep) ------------------------------------------------------

    def due(self, now: datetime, policy: RegistrationPolicy) -> list[Change]:
        """Reminders, closures and lapses that ``now`` has made due, each issued once."""
        return self._incomplete_due(now, policy) + self._renewal_due(now, policy)

    def _incomplete_due(self, now: datetime, policy: RegistrationPolicy) -> list[Change]:
        if not self.exists or not self.editable or self.kind != "application":
            return []
        idle = now - (self.last_activity_at or now)
        if idle >= timedelta(days=policy.close_days):
            return [("ApplicationClosedIncomplete", {"idle_days": idle.days})]
        key = f"incomplete:{_iso(self.last_activity_at)}"
        if idle >= timedelta(days=policy.reminder_days) and key not in self.reminders:
            closes = (self.last_activity_at or now) + timedelta(days=policy.close_days)
            closes_on = policy.local_date(closes).isoformat()
            reminder = {"key": key, "idle_days": idle.days, "closes_on": closes_on}
            return [("IncompleteReminderIssued", reminder)]
        return []

    def _renewal_due(self, now: datetime, policy: RegistrationPolicy) -> list[Change]:
        if self.renewal_due is None or self.approved_at is None:
            return []
        today = policy.local_date(now)
        due = self.renewal_due
        lapse_key = f"lapsed:{due.isoformat()}"
        if today >= due:
            if lapse_key in self.reminders:
                return []
            return [("RegistrationLapsed", {"key": lapse_key, "renewal_due": due.isoformat()})]
        if self.kind == "renewal" and self.status in {SUBMITTED, AWAITING_SUPERVISOR}:
            return []  # renewal already with the program: no nagging
        days_left = (due - today).days
        windows = [d for d in policy.renewal_reminder_days if days_left <= d]
        if not windows:
            return []
        window = min(windows)  # only the nearest reminder, if several fall due at once
        key = f"renewal:{due.isoformat()}:{window}"
        if key in self.reminders:
            return []
        reminder = {"key": key, "days_before": window, "renewal_due": due.isoformat()}
        return [("RenewalReminderIssued", reminder)]

    def new_renewal_date(self, policy: RegistrationPolicy) -> list[Change]:
        """The renewal date after a change of the group's years; nothing if it stays."""
        if self.approved_at is None or self.approved_role is None:
            return []
        years = policy.years(self.approved_role)
        due = renewal_date(policy.local_date(self.approved_at), years)
        if due == self.renewal_due:
            return []
        return [("RenewalDateSet", {"renewal_due": due.isoformat(), "years": years})]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ApplicationStateConflict(message)


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None
