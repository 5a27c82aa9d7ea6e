"""Confirmation links of tickets opened by someone not signed in: ``<ticket id>.<MAC>``.

The MAC under a key derived from ``PMP_SECRET_KEY`` is what makes the link unguessable; the
ticket's events hold nothing a reader could turn into a working link, and the mail reaction
can make the link again. Opening it proves the address belongs to whoever opened the
ticket, and only then does the help desk write to it (``mail.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from pmp.config import Settings
from pmp.keys import derived_key
from services.helpdesk.ticket import TicketError

PURPOSE = "helpdesk.contact-confirmation"


class LinkInvalid(TicketError):
    """The confirmation link was not made here (mistyped, cut short, or forged)."""


def _mac(settings: Settings, ticket_id: str) -> str:
    key = derived_key(settings, PURPOSE)
    return hmac.new(key, ticket_id.encode(), hashlib.sha256).hexdigest()[:40]


def confirmation_link(settings: Settings, ticket_id: str) -> str:
    return f"{settings.public_url}/help/confirm/{ticket_id}.{_mac(settings, ticket_id)}"


def read_link(settings: Settings, token: str) -> str:
    """The ticket id in ``token``; ``LinkInvalid`` if the link was not ours."""
    ticket_id, _, mac = (token or "").strip().partition(".")
    try:
        uuid.UUID(ticket_id)
    except ValueError:
        pass
    else:
        if hmac.compare_digest(mac, _mac(settings, ticket_id)):
            return ticket_id
    raise LinkInvalid("This confirmation link is not valid; copy the whole link from the email.")
