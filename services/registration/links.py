"""Email-verification links: ``<account id>.<verification id>.<MAC>``.

The event records only the verification id; the MAC under a key derived from
``PMP_SECRET_KEY`` is what makes the link unguessable, so the store never holds anything a
reader could turn into a working link, and the mail reaction can make the link again.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from pmp.config import Settings
from pmp.keys import derived_key
from services.registration.domain import LinkInvalid

PURPOSE = "registration.email-verification"


def _mac(settings: Settings, account_id: str, verification_id: str) -> str:
    key = derived_key(settings, PURPOSE)
    message = f"{account_id}.{verification_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:40]


def verification_link(settings: Settings, account_id: str, verification_id: str) -> str:
    token = f"{account_id}.{verification_id}.{_mac(settings, account_id, verification_id)}"
    return f"{settings.public_url}/register/verify/{token}"


def read_link(settings: Settings, token: str) -> tuple[str, str]:
    """The account and verification ids in ``token``; ``LinkInvalid`` if it was not ours."""
    parts = (token or "").strip().split(".")
    if len(parts) == 3:
        account_id, verification_id, mac = parts
        try:
            uuid.UUID(account_id), uuid.UUID(verification_id)
        except ValueError:
            pass
        else:
            if hmac.compare_digest(mac, _mac(settings, account_id, verification_id)):
                return account_id, verification_id
    raise LinkInvalid("This verification link is not valid; copy the whole link from the email.")
