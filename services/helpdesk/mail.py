"""The mail reaction: the user hears from the help desk when their ticket is received,
when staff reply to them (never for internal comments), and when it is resolved.

An address given by someone not signed in first receives only a link to confirm it
(``links.py``); the acknowledgement follows when the link is used, and replies and the
resolution reach it only from then on (staff see them on the ticket meanwhile).

Each message is made from the event and the ticket as it stood then, and carries a
Message-ID made from the event id (see ``pmp/reactions.py``), so it is sent once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pmp.envelope import RecordedEvent
from pmp.mail import Email, Mailer
from pmp.reactions import Reaction
from services.helpdesk.links import confirmation_link
from services.helpdesk.policy import policy_in_force
from services.helpdesk.repository import ticket_at
from services.helpdesk.ticket import Ticket

SIGNATURE = "\n\nCPMRS help desk\nConnecticut Prescription Monitoring and Reporting System\n"


class HelpdeskMail(Reaction):
    name = "helpdesk.mail"
    types = frozenset(
        {"TicketOpened", "TicketContactConfirmed", "TicketCommented", "TicketResolved"}
    )

    def __init__(self, settings, store):
        super().__init__(settings, store)
        self.mailer = Mailer(settings)

    def react(self, event: RecordedEvent) -> bool:
        ticket = ticket_at(self.store, event)
        reopen_days = policy_in_force(self.store).reopen_days
        emails = messages(event, ticket, self.settings, reopen_days)
        for subject, body in emails:
            self.mailer.send(
                Email(
                    to=ticket.contact_email,
                    subject=subject,
                    text=body + SIGNATURE,
                    message_id=str(event.event_id),
                )
            )
        return bool(emails)


def messages(
    event: RecordedEvent, t: Ticket, settings: Any, reopen_days: int
) -> list[tuple[str, str]]:
    """(subject, body) for each email ``event`` calls for: none, or one."""
    d = event.data
    hello = f"Hello {t.contact_name or 'there'},\n\n"
    about = f"{t.reference}: {t.subject}"
    follow = (
        f"\n\nSign in to follow it, reply or attach files at {settings.public_url}/help/tickets/"
        f"{t.ticket_id}."
        if t.account_id
        else "\n\nTo add something, reply to the help desk quoting the ticket number."
    )
    if event.type == "TicketOpened" and not t.contact_confirmed:
        return [
            (
                f"Confirm your email address for help desk request {t.reference}",
                f'{hello}Someone (we hope you) asked the CPMRS help desk for help, "{t.subject}", '
                "and gave this email address to answer at. Open this link to confirm it is "
                f"yours:\n\n{confirmation_link(settings, t.ticket_id)}\n\nWe write to this "
                "address only once it is confirmed. If you did not ask, ignore this message.",
            )
        ]
    if not t.contact_confirmed:
        return []
    if event.type in {"TicketOpened", "TicketContactConfirmed"}:
        return [
            (
                f"We received your help desk request {t.reference}",
                f'{hello}We received your request "{t.subject}" and gave it the number '
                f"{t.reference}. Quote it if you call us. Support hours are Monday to Friday, "
                f"8:00 to 17:00.{follow}",
            )
        ]
    if event.type == "TicketCommented":
        if d["internal"] or not d["from_staff"]:
            return []
        return [
            (
                f"Reply to your help desk request {about}",
                f"{hello}{d['author_name'] or 'The help desk'} replied to your request "
                f"{t.reference}:\n\n{d['body']}{follow}",
            )
        ]
    if event.type == "TicketResolved":
        until = event.metadata.occurred_at + timedelta(days=reopen_days)
        local = until.astimezone(settings.timezone)
        return [
            (
                f"Your help desk request {t.reference} is resolved",
                f"{hello}We resolved your request {about}:\n\n{d['resolution']}\n\nIf the "
                f"problem is not solved, reopen it by {local:%B %-d, %Y}.{follow}",
            )
        ]
    return []
