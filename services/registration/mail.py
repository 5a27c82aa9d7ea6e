"""The mail reaction: the emails the registration's events call for.

Each message is made from the event and the registration as it stood then, and carries a
Message-ID made from the event id. The reaction (``pmp/reactions.py``) sends each at least
once and records it, so a redelivery or a second replica never sends it again.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pmp.envelope import RecordedEvent
from pmp.mail import Email, Mailer
from pmp.reactions import Reaction
from services.identity.roles import ROLE_TITLES, Role
from services.registration.domain import Registration
from services.registration.links import verification_link
from services.registration.repository import registration_at

SIGNATURE = "\n\nConnecticut Prescription Monitoring and Reporting System (CPMRS)\n"


class RegistrationMail(Reaction):
    name = "registration.mail"
    types = frozenset(
        {
            "VerificationEmailRequested",
            "ApplicationSubmitted",
            "SupervisorDeclined",
            "InformationRequested",
            "ApplicationApproved",
            "ApplicationRejected",
            "IncompleteReminderIssued",
            "ApplicationClosedIncomplete",
            "RenewalReminderIssued",
            "RegistrationLapsed",
            "ProfileChangeApproved",
            "ProfileChangeRejected",
        }
    )

    def __init__(self, settings, store):
        super().__init__(settings, store)
        self.mailer = Mailer(settings)

    def react(self, event: RecordedEvent) -> bool:
        registration = registration_at(self.store, event)
        emails = messages(event, registration, self.settings)
        for to, subject, body in emails:
            self.mailer.send(
                Email(to=to, subject=subject, text=body + SIGNATURE, message_id=str(event.event_id))
            )
        return bool(emails)


def messages(event: RecordedEvent, r: Registration, settings: Any) -> list[tuple[str, str, str]]:
    """(to, subject, body) for each email ``event`` calls for; usually one, sometimes none."""
    d = event.data
    url = settings.public_url
    hello = f"Hello {r.full_name or 'there'},\n\n"
    role = ROLE_TITLES[Role(r.role)] if r.role else "user"
    kind = event.type
    if kind == "VerificationEmailRequested":
        link = verification_link(settings, r.account_id, d["verification_id"])
        return [
            (
                d["email"],
                "Verify your email address for your CPMRS application",
                f"{hello}You applied for CPMRS access as a {role}. Open this link to confirm "
                f"that this email address is yours:\n\n{link}\n\nThe link works once and "
                f"until {_day(d['expires_at'][:10])}. If you did not apply, ignore this "
                "message.",
            )
        ]
    if kind == "ApplicationSubmitted":
        supervisor = r.supervisor or {}
        if not d.get("supervisor_account_id") or not supervisor.get("email"):
            return []
        return [
            (
                supervisor["email"],
                "A delegate asks you to approve their CPMRS access",
                f"Hello {supervisor.get('name') or 'there'},\n\n{r.full_name} ({r.email}) "
                "applied for CPMRS access as your delegate. They will act on your behalf and "
                "you remain responsible for their use of the system. Approve or decline at:"
                f"\n\n{url}/delegates",
            )
        ]
    if kind == "SupervisorDeclined":
        return [
            (
                r.email,
                "Your CPMRS application was declined by your supervisor",
                f"{hello}Your supervisor declined your application to act as their delegate:"
                f"\n\n{d['reason']}\n\nYou may start a new application at {url}/application.",
            )
        ]
    if kind == "InformationRequested":
        return [
            (
                r.email,
                "Your CPMRS application needs more information",
                f"{hello}An administrator reviewed your application and asks for more "
                f"information:\n\n{d['message']}\n\nYour application is open again: update "
                f"it and submit it at {url}/application.",
            )
        ]
    if kind == "ApplicationApproved":
        what = "renewal" if d["kind"] == "renewal" else "application"
        return [
            (
                r.email,
                f"Your CPMRS {what} is approved",
                f"{hello}Your {what} for CPMRS access as a {role} is approved. Sign in at "
                f"{url}/login with your email address and password.\n\nYour registration "
                f"must be renewed by {_day(d['renewal_due'])}; we will remind you.",
            )
        ]
    if kind == "ApplicationRejected":
        return [
            (
                r.email,
                "Your CPMRS application was not approved",
                f"{hello}An administrator did not approve your application:\n\n{d['reason']}"
                "\n\nIf you have questions, contact the CPMRS help desk.",
            )
        ]
    if kind == "IncompleteReminderIssued":
        return [
            (
                r.email,
                "Your CPMRS application is not finished",
                f"{hello}You started an application for CPMRS access but have not submitted "
                f"it. Still to do:\n\n- " + "\n- ".join(r.missing() or ["Submit it."]) + "\n\n"
                f"Continue at {url}/application. Unfinished applications are closed on "
                f"{_day(d['closes_on'])}.",
            )
        ]
    if kind == "ApplicationClosedIncomplete":
        return [
            (
                r.email,
                "Your unfinished CPMRS application was closed",
                f"{hello}Your application was not completed in time and has been closed. You "
                f"can start again at {url}/application.",
            )
        ]
    if kind == "RenewalReminderIssued":
        return [
            (
                r.email,
                f"Renew your CPMRS registration by {_day(d['renewal_due'])}",
                f"{hello}Your CPMRS registration must be renewed by {_day(d['renewal_due'])} "
                f"({d['days_before']} days from now). On that date access to patient data stops "
                f"until your renewal is approved. Renew at {url}/application.",
            )
        ]
    if kind == "RegistrationLapsed":
        return [
            (
                r.email,
                "Your CPMRS registration is due for renewal",
                f"{hello}Your registration reached its renewal date, "
                f"{_day(d['renewal_due'])}. Access to patient data has stopped until you renew "
                f"and an administrator approves it. Renew at {url}/application.",
            )
        ]
    if kind == "ProfileChangeApproved":
        return [
            (
                r.email,
                "Your CPMRS profile change is approved",
                f"{hello}Your requested "
                "profile change was approved and is now on your registration.",
            )
        ]
    if kind == "ProfileChangeRejected":
        return [
            (
                r.email,
                "Your CPMRS profile change was not approved",
                f"{hello}Your requested profile change was not approved:\n\n{d['reason']}",
            )
        ]
    return []


def _day(iso: str) -> str:
    return date.fromisoformat(iso[:10]).strftime("%B %-d, %Y")
