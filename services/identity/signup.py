"""Signing up by email: the address is proven before any account exists.

Whoever asks to sign up gets the same answer ("check your email"); what the address
receives differs. A new address gets a link ``<address, base64url>.<expiry>.<MAC>`` under a
key derived from ``PMP_SECRET_KEY``, with which its owner chooses a password and the
account is made; an address that already has an account gets a notice that someone tried
to register with it. So the answer tells nobody which addresses are known, and an account
never exists for an address nobody proved. Nothing is stored until the link is used, and
the email claim (``repository.claim_email``) makes a link work once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

from pmp.config import Settings
from pmp.keys import derived_key
from pmp.mail import Email
from services.identity.domain import AccountError, CodeRejected, normalise_email

PURPOSE = "identity.sign-up"
SIGNATURE = "\n\nConnecticut Prescription Monitoring and Reporting System (CPMRS)\n"
# One plain address: no list, no display name, nothing a mail header would read as two.
_ADDRESS = re.compile(r"[^@\s,;:<>()\[\]\\\"]+@[^@\s,;:<>()\[\]\\\"]+\.[^@\s,;:<>()\[\]\\\"]+")
LINK_REFUSED = (
    "This sign-up link is not valid or has expired; copy the whole link from the email, or "
    "sign up again for a new one."
)


def checked_address(email: str) -> str:
    """``email`` normalised, or ``AccountError`` naming the field if it is not one address."""
    address = normalise_email(email)
    if len(address) > 254 or not _ADDRESS.fullmatch(address):
        raise AccountError("email: Enter your email address, like name@example.org.")
    return address


def _mac(settings: Settings, address: str, expires: int) -> str:
    key = derived_key(settings, PURPOSE)
    return hmac.new(key, f"{address}.{expires}".encode(), hashlib.sha256).hexdigest()[:40]


def sign_up_link(settings: Settings, email: str, now: datetime) -> str:
    """The page where the owner of ``email`` chooses a password, for a limited time."""
    address = normalise_email(email)
    expires = int((now + timedelta(hours=settings.verification_link_hours)).timestamp())
    encoded = base64.urlsafe_b64encode(address.encode()).decode().rstrip("=")
    token = f"{encoded}.{expires}.{_mac(settings, address, expires)}"
    return f"{settings.public_url}/register/confirm/{token}"


def read_link(settings: Settings, token: str, now: datetime) -> str:
    """The address a link was sent to; ``CodeRejected`` if it was not ours or has expired."""
    parts = (token or "").strip().split(".")
    if len(parts) == 3 and parts[1].isdigit():
        encoded, expires, mac = parts
        try:
            address = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            address = ""
        if (
            address
            and hmac.compare_digest(mac, _mac(settings, address, int(expires)))
            and now < datetime.fromtimestamp(int(expires), UTC)
        ):
            return address
    raise CodeRejected(LINK_REFUSED)


def invitation(settings: Settings, email: str, now: datetime) -> Email:
    """To a new address: the link that makes the account."""
    hours = settings.verification_link_hours
    return Email(
        to=email,
        subject="Finish signing up for CPMRS",
        text=(
            "Hello,\n\nSomeone (we hope you) asked to register for CPMRS access with this "
            "email address. Open this link to confirm that the address is yours and choose "
            f"your password:\n\n{sign_up_link(settings, email, now)}\n\nThe link works once, "
            f"within {hours} hours. If you did not ask for this, ignore this message: no "
            "account is made without it." + SIGNATURE
        ),
    )


def existing_account_notice(settings: Settings, email: str) -> Email:
    """To an address that has an account: someone tried to register with it."""
    url = settings.public_url
    return Email(
        to=email,
        subject="Someone tried to register with your CPMRS address",
        text=(
            "Hello,\n\nSomeone tried to register for CPMRS access with this email address, "
            "which already has an account. No new account was made and yours has not "
            f"changed.\n\nIf it was you: sign in at {url}/login, or reset your password at "
            f"{url}/password/forgot if you forgot it.\n\nIf it was not you, you need do "
            "nothing; tell the CPMRS help desk if it keeps happening." + SIGNATURE
        ),
    )
