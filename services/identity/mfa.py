"""TOTP one-time codes (RFC 6238, via pyotp): enrolment links and replay-safe checking."""

from __future__ import annotations

from datetime import datetime

import pyotp

ISSUER = "CPMRS"
STEP_SECONDS = 30


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` link an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side for clock drift)."""
    code = "".join(c for c in code if c.isdigit())
    if len(code) != 6:
        return None
    step = int(now.timestamp()) // STEP_SECONDS
    try:
        totp = pyotp.TOTP(secret)
        for candidate in (step, step - 1, step + 1):
            if pyotp.utils.strings_equal(totp.at(candidate * STEP_SECONDS), code):
                return candidate
    except ValueError:  # not base32, or under 112 bits: no code can match it
        return None
    return None
