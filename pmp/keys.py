"""The deployment's secret key, and what is derived from it.

One key (``PMP_SECRET_KEY``) signs the gateway's CSRF tokens and encrypts secrets that
events must carry (MFA seeds), so the audit copy of every event never holds them in clear.
Embedded mode (one machine, SQLite) may leave it empty: a key is generated once into the
data folder. A shared-database deployment runs replicas on several machines, which must
agree on it, so there it has to be set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from functools import cache

from cryptography.fernet import Fernet, InvalidToken

from pmp.config import ConfigError, Settings


def secret_key(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    if not settings.embedded:
        raise ConfigError("PMP_SECRET_KEY must be set when PMP_DATABASE_URL is")
    return _generated_key(str(settings.data_dir))


@cache
def _generated_key(data_dir: str) -> bytes:
    path = os.path.join(data_dir, "secret.key")
    os.makedirs(data_dir, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, "rb") as existing:
            return existing.read().strip()
    with os.fdopen(fd, "wb") as created:
        created.write(secrets.token_urlsafe(48).encode())
    with open(path, "rb") as written:
        return written.read().strip()


def derived_key(settings: Settings, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so no two uses share key material."""
    return hmac.new(secret_key(settings), purpose.encode(), hashlib.sha256).digest()


class SecretBox:
    """Authenticated encryption (Fernet) of short secrets stored in events."""

    def __init__(self, settings: Settings, purpose: str):
        self._fernet = Fernet(base64.urlsafe_b64encode(derived_key(settings, purpose)))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("sealed with another PMP_SECRET_KEY, or altered") from exc
