"""Loading and saving accounts: one stream per account, one per claimed email address."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

from pmp.eventstore import ConcurrencyError
from pmp.service import Kernel
from services.identity.access_changes import changes_access
from services.identity.domain import Account, Change, normalise_email

T = TypeVar("T")

RETRIES = 5


class NotFound(LookupError):
    """No such account."""


class EmailTaken(ValueError):
    """Another account already uses this email address."""


def account_stream(account_id: str) -> str:
    return f"account-{account_id}"


def email_stream(email: str) -> str:
    """Claims keep one account per address; hashed to fit any address in a stream name."""
    digest = hashlib.sha256(normalise_email(email).encode()).hexdigest()[:40]
    return f"email-{digest}"


class Accounts:
    def __init__(self, kernel: Kernel, announce: Callable[[str], None] | None = None):
        self.kernel = kernel
        self.announce = announce  # tells the gateways an account's access changed

    def load(self, account_id: str) -> Account:
        events = self.kernel.store.read_stream(account_stream(account_id))
        return Account.fold(account_id, events)

    def get(self, account_id: str) -> Account:
        account = self.load(account_id)
        if not account.exists:
            raise NotFound("There is no account with this id.")
        return account

    def id_for_email(self, email: str) -> str | None:
        claims = self.kernel.store.read_stream(email_stream(email))
        return str(claims[-1].data["account_id"]) if claims else None

    def save(self, account: Account, changes: list[Change]) -> None:
        """Append ``changes``; if they may change what the account's sessions can do, every
        gateway hears it before this returns (``access_changes``)."""
        if changes:
            self.kernel.append(account_stream(account.account_id), account.version, changes)
            if self.announce is not None and changes_access(kind for kind, _ in changes):
                self.announce(account.account_id)

    def decide(self, account_id: str, decision: Callable[[Account], tuple[list[Change], T]]) -> T:
        """Load, decide, append; on a concurrent change, decide again on the newer state.

        ``decision`` must not have side effects beyond its return value: it may run twice.
        """
        for attempt in range(RETRIES):
            account = self.get(account_id)
            changes, result = decision(account)
            try:
                self.save(account, changes)
                return result
            except ConcurrencyError:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def claim_email(self, email: str, account_id: str) -> None:
        """Reserve ``email`` for ``account_id``; a claim whose account was never created (a
        crash between the two appends) may be taken over."""
        stream = email_stream(email)
        claim = ("EmailClaimed", {"account_id": account_id, "email": normalise_email(email)})
        try:
            self.kernel.append(stream, 0, [claim])
        except ConcurrencyError:
            previous = self.id_for_email(email)
            if previous and self.load(previous).exists:
                raise EmailTaken(f"An account with the email address {email} exists.") from None
            version = len(self.kernel.store.read_stream(stream))
            self.kernel.append(stream, version, [claim])
