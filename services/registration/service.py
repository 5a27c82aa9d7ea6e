"""nameko entrypoints of the registration service: applications, vetting and renewal.

Each RPC loads a registration, asks the domain for a decision and appends what it returns.
The caller is the ``actor_id``/``actor_role`` the gateway put in the context data; the
applicant's own RPCs act on the caller's registration only, and every other RPC checks the
caller's permission here as well as in the gateway. Emails and identity's access follow
from the events, through the reactions in ``mail.py`` and ``access.py``.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

from nameko.timer import timer

from pmp import documents, ratelimit
from pmp.calls import ServiceOf
from pmp.config import load_settings
from pmp.documents import DocumentRejected, DocumentStore, inspect_document
from pmp.logs import get_logger
from pmp.rpc import rpc
from pmp.service import EventSourcedService, ServiceKernel
from services.identity.roles import NotAuthorized, Permission, allows, require
from services.registration import forms
from services.registration.access import AccessToIdentity
from services.registration.agreement import AGREEMENT_VERSION, agreement
from services.registration.confirmation import ConfirmationData, render_confirmation
from services.registration.domain import FormInvalid
from services.registration.links import read_link
from services.registration.mail import RegistrationMail
from services.registration.projections import PROJECTIONS, ApplicationQueries
from services.registration.repository import NotFound, Registrations
from services.registration.schemas import registration_events
from services.registration.tools import RegistrationTools, Tools
from services.registration.views import application_view, history_view

log = get_logger(__name__)

SWEEP_SECONDS = load_settings().registration_sweep_seconds


class RegistrationService(EventSourcedService):
    name = "registration"
    kernel = ServiceKernel(
        registration_events(),
        projections=PROJECTIONS,
        tables=(documents.metadata, ratelimit.metadata),
        reactions=(RegistrationMail, AccessToIdentity),
    )
    tools: Tools = RegistrationTools()
    identity = ServiceOf("identity")

    # -- helpers -------------------------------------------------------------------------------

    @property
    def registrations(self) -> Registrations:
        return Registrations(self.kernel)

    @property
    def queries(self) -> ApplicationQueries:
        return ApplicationQueries(self.kernel.db.read)

    def _now(self) -> datetime:
        return self.kernel.clock()

    def _require(self, permission: Permission) -> None:
        require(self.kernel.actor_role, permission)

    def _me(self) -> str:
        """The applicant's own account id; every own-registration RPC acts on it alone."""
        self._require(Permission.REGISTRATION_APPLY)
        return str(self.kernel.actor_id)

    def _policy(self):
        return self.registrations.policy(self.tools.policy)

    def _own(self, decision) -> dict[str, Any]:
        return application_view(self.registrations.decide(self._me(), decision))

    def _limit_verification(self, email: str) -> None:
        """A verification email is one the applicant asks for: limited per address (only
        their own address is ever sent one, so that is also the limit per person)."""
        checks = ratelimit.mail_checks(self.tools.settings, "verification", email)
        ratelimit.RateLimit(self.kernel.db).check(checks, self._now())

    # -- the applicant -------------------------------------------------------------------------

    @rpc
    def my_registration(self) -> dict[str, Any] | None:
        registration = self.registrations.load(self._me())
        return application_view(registration) if registration.exists else None

    @rpc
    def start_application(self, email: str, role: str) -> dict[str, Any]:
        """Start (or, after a rejection or closure, start again) and send the verification."""
        _applicable(role)
        self._limit_verification(email)
        now, policy = self._now(), self._policy()
        verification = str(uuid.uuid4())
        registration = self.registrations.decide(
            self._me(),
            lambda r: r.start(email.strip().lower(), role, verification, now, policy),
            must_exist=False,
        )
        log.info("application started", account_id=registration.account_id, role=role)
        return application_view(registration)

    @rpc
    def choose_role(self, role: str) -> dict[str, Any]:
        _applicable(role)
        return self._own(lambda r: r.choose_role(role))

    @rpc
    def resend_verification(self) -> dict[str, Any]:
        self._limit_verification(self.registrations.get(self._me()).email)
        now, policy = self._now(), self._policy()
        verification = str(uuid.uuid4())
        return self._own(lambda r: r.resend_verification(verification, now, policy))

    @rpc
    def verify_email(self, link: str) -> dict[str, Any]:
        """Public: the link is opened from the email, maybe on another device."""
        account_id, verification = read_link(self.tools.settings, link)
        now = self._now()
        self.registrations.decide(account_id, lambda r: r.verify_email(verification, now))
        log.info("email verified", account_id=account_id)
        return {"account_id": account_id, "verified": True}

    @rpc
    def save_form(self, form: dict[str, Any]) -> dict[str, Any]:
        account_id = self._me()
        role = self.registrations.get(account_id).role
        clean, errors = forms.validate_form(role, form or {})
        supervisor = None
        if not errors and clean.get("supervisor_email") and role == "delegate":
            supervisor = self.identity.find_supervisor(email=clean["supervisor_email"])
            if supervisor is None:
                errors["supervisor_email"] = (
                    "No active prescriber or pharmacist account has this email address; "
                    "ask your supervisor which address they sign in with"
                )
        if errors:
            raise FormInvalid(forms.errors_text(errors))
        return self._own(lambda r: r.save_form(clean, supervisor))

    @rpc
    def attach_document(self, filename: str, content: str, description: str) -> dict[str, Any]:
        """Check the upload, keep its content by hash, then record it on the application.
        A refused upload stores nothing."""
        account_id = self._me()
        registration = self.registrations.get(account_id)
        try:
            raw = base64.b64decode(content or "", validate=True)
        except (binascii.Error, ValueError):
            raise DocumentRejected(
                "The upload was damaged on the way; choose the file again"
            ) from None
        inspected = inspect_document(filename or "document", raw)
        description = (description or "Supporting document").strip()[:200]
        document = {
            "document_id": str(uuid.uuid4()),
            "sha256": inspected.sha256,
            "filename": inspected.filename,
            "content_type": inspected.content_type,
            "size": inspected.size,
            "description": description,
        }
        registration.attach_document(document)  # refuse before storing anything
        DocumentStore(self.kernel.db).put(inspected, raw, self._now())
        view = self._own(lambda r: r.attach_document(document))
        log.info("document attached", account_id=account_id, size=inspected.size)
        return view

    @rpc
    def remove_document(self, document_id: str) -> dict[str, Any]:
        return self._own(lambda r: r.remove_document(document_id))

    @rpc
    def document(self, account_id: str, document_id: str) -> dict[str, Any]:
        """A document's content, for its applicant or an administrator only."""
        if not (
            str(self.kernel.actor_id) == account_id
            or allows(self.kernel.actor_role, Permission.REGISTRATION_REVIEW)
        ):
            raise NotAuthorized("Only the applicant and administrators may see this document.")
        try:
            uuid.UUID(account_id)
        except ValueError:
            raise NotFound("There is no such document.") from None
        registration = self.registrations.load(account_id)
        record = registration.documents.get(document_id)
        content = DocumentStore(self.kernel.db).get(record["sha256"]) if record else None
        if record is None or content is None:
            raise NotFound("There is no such document.")
        return {
            "filename": record["filename"],
            "content_type": record["content_type"],
            "content": base64.b64encode(content).decode(),
        }

    @rpc
    def agreement(self) -> dict[str, Any]:
        return agreement()

    @rpc
    def accept_agreement(self, version: str, client: str) -> dict[str, Any]:
        return self._own(lambda r: r.accept_agreement(version, AGREEMENT_VERSION, client))

    @rpc
    def confirmation_pdf(self) -> str:
        """The page the applicant prints, signs and keeps, base64-encoded."""
        registration = self.registrations.get(self._me())
        settings = self.tools.settings
        accepted = registration.agreement
        pdf = render_confirmation(
            ConfirmationData(
                applicant_name=registration.full_name or registration.email,
                email=registration.email,
                role=registration.role,
                form=registration.form,
                documents=[d["filename"] for d in registration.documents.values()],
                agreement_version=accepted["version"] if accepted else AGREEMENT_VERSION,
                accepted_at=datetime.fromisoformat(accepted["accepted_at"]) if accepted else None,
                printed_at=self._now(),
                timezone=settings.timezone,
            )
        )
        return base64.b64encode(pdf).decode()

    @rpc
    def submit(self) -> dict[str, Any]:
        view = self._own(lambda r: r.submit())
        log.info("application submitted", account_id=view["account_id"], kind=view["kind"])
        return view

    @rpc
    def start_renewal(self) -> dict[str, Any]:
        return self._own(lambda r: r.start_renewal())

    @rpc
    def request_profile_change(self, changes: dict[str, Any]) -> dict[str, Any]:
        clean, errors = forms.validate_profile_change(changes or {})
        if errors:
            raise FormInvalid(forms.errors_text(errors))
        return self._own(lambda r: r.request_profile_change(clean))

    # -- supervisors ---------------------------------------------------------------------------

    @rpc
    def delegate_requests(self) -> list[dict[str, Any]]:
        self._require(Permission.DELEGATE_SUPERVISE)
        return self.queries.awaiting_supervisor(str(self.kernel.actor_id), self._now())

    @rpc
    def decide_delegate(self, account_id: str, approve: bool, reason: str = "") -> dict[str, Any]:
        self._require(Permission.DELEGATE_SUPERVISE)
        me = str(self.kernel.actor_id)
        registration = self.registrations.decide(
            account_id, lambda r: r.supervisor_decides(me, bool(approve), reason or "")
        )
        return application_view(registration)

    # -- administrators ------------------------------------------------------------------------

    @rpc
    def review_queue(self, status: str = "submitted", page: int = 1) -> dict[str, Any]:
        self._require(Permission.REGISTRATION_REVIEW)
        return self.queries.queue(status, page, self._now())

    @rpc
    def get_application(self, account_id: str) -> dict[str, Any]:
        """The application with its history: for administrators, and for its applicant."""
        if str(self.kernel.actor_id) != account_id:
            self._require(Permission.REGISTRATION_REVIEW)
        try:
            uuid.UUID(account_id)
        except ValueError:
            raise NotFound("There is no application for this account.") from None
        registration = self.registrations.get(account_id)
        view = application_view(registration)
        view["history"] = history_view(self.registrations.history(account_id))
        return view

    def _review(self, account_id: str, decision) -> dict[str, Any]:
        self._require(Permission.REGISTRATION_REVIEW)
        if account_id == str(self.kernel.actor_id):
            raise NotAuthorized("Administrators cannot decide on their own registration.")
        return application_view(self.registrations.decide(account_id, decision))

    @rpc
    def approve(self, account_id: str) -> dict[str, Any]:
        now, policy = self._now(), self._policy()
        view = self._review(account_id, lambda r: r.approve(now, policy))
        log.info("application approved", account_id=account_id)
        return view

    @rpc
    def reject(self, account_id: str, reason: str) -> dict[str, Any]:
        return self._review(account_id, lambda r: r.reject(reason))

    @rpc
    def request_information(self, account_id: str, message: str) -> dict[str, Any]:
        return self._review(account_id, lambda r: r.request_information(message))

    @rpc
    def renewal_policy(self) -> dict[str, Any]:
        self._require(Permission.REGISTRATION_REVIEW)
        policy = self._policy()
        return {"years": {role: policy.years(role) for role in forms.APPLICABLE_ROLES}}

    @rpc
    def set_renewal_years(self, role: str, years: int) -> dict[str, Any]:
        """Set a group's years and move each of its approved users' renewal dates."""
        self._require(Permission.REGISTRATION_REVIEW)
        _applicable(role)
        self.registrations.set_years(role, int(years))
        policy = self._policy()
        moved = 0
        for account_id in self.queries.approved_in_role(str(role)):
            before = self.registrations.load(account_id).renewal_due
            after = self.registrations.decide(account_id, lambda r: r.new_renewal_date(policy))
            moved += after.renewal_due != before
        log.info("renewal years set", role=role, years=years, moved=moved)
        return {**self.renewal_policy(), "moved": moved}

    @rpc
    def registered_prescribers(self, dea_numbers: list[str]) -> list[dict[str, str]]:
        """Internal (no gateway route reaches it): the approved prescribers registered with
        ``dea_numbers``, for the alerts service's notices to prescribers of record."""
        if self.kernel.actor_id is not None:
            raise NotAuthorized("Only services may ask this.")
        return self.queries.prescribers_by_dea([str(d) for d in dea_numbers][:500])

    @rpc
    def postal_address(self, account_id: str) -> list[str] | None:
        """The postal address on this account's registration record, for the mail room
        (``letters.post``) posting a credential letter; None when the record has none."""
        self._require(Permission.LETTERS_POST)
        try:
            uuid.UUID(str(account_id))
        except ValueError:
            return None
        registration = self.registrations.load(str(account_id))
        return (registration.address_lines() or None) if registration.exists else None

    @rpc
    def profile_changes(self) -> list[dict[str, Any]]:
        self._require(Permission.REGISTRATION_REVIEW)
        return self.queries.profile_changes(self._now())

    @rpc
    def decide_profile_change(
        self, account_id: str, approve: bool, reason: str = ""
    ) -> dict[str, Any]:
        return self._review(account_id, lambda r: r.decide_profile_change(bool(approve), reason))

    # -- the clock -----------------------------------------------------------------------------

    @timer(interval=SWEEP_SECONDS)
    def sweep(self) -> None:
        """Issue the reminders, closures and lapses that time has made due."""
        now, policy = self._now(), self._policy()
        furthest = max(policy.renewal_reminder_days, default=0)
        candidates = self.queries.sweep_candidates(
            now, policy.local_date(now), policy.reminder_days, furthest
        )
        for account_id in candidates:
            self.registrations.decide(account_id, lambda r: r.due(now, policy))


def _applicable(role: str) -> None:
    if role not in {str(r) for r in forms.APPLICABLE_ROLES}:
        titles = ", ".join(r.title for r in forms.APPLICABLE_ROLES)
        raise FormInvalid(f"role: choose one of the roles one can apply for: {titles}")
