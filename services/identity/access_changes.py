"""Access changes: what identity tells every gateway replica so none serves a stale principal.

A gateway caches the principal behind a session token. When an account's events change what
its sessions may do (suspension, revocation, removal, a role or permission change, a password
change, an MFA reset, a session ended, ...), the identity RPC that saved them publishes
``{"account_id": ...}`` to the fanout exchange ``identity.access`` and waits for the broker's
confirm before it returns, so the message is already in every replica's queue when the caller
hears back. The same events, relayed later from the store to ``identity.events``, are the
backstop for a crash between the commit and that publish. Deny by default: every account
event invalidates except those listed as leaving existing sessions' principals as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import kombu

from pmp.logs import get_logger

log = get_logger(__name__)

ACCESS_EXCHANGE = kombu.Exchange("identity.access", type="fanout", durable=True)

# Events that cannot change what an existing session's principal says: a new session has a
# new token (nothing cached), a failed attempt changes nothing until ``AccountLocked``.
PRINCIPAL_UNCHANGED = frozenset(
    {
        "AccountCreated",
        "AccountSignedUp",
        "LoginSucceeded",
        "LoginFailed",
        "SessionStarted",
        "PasswordRehashed",
        "PasswordResetRequested",
    }
)

ACCOUNT_STREAM_PREFIX = "account-"


def changes_access(event_types: Iterable[str]) -> bool:
    """Whether events of these types, saved on an account, may change a cached principal."""
    return any(kind not in PRINCIPAL_UNCHANGED for kind in event_types)


def account_changed(message: dict) -> str | None:
    """The account a message on the gateway's queue invalidates: a direct notice
    (``{"account_id"}``) or a relayed identity event on an ``account-<id>`` stream whose
    type changes access; None for anything else."""
    if not isinstance(message, dict):
        return None
    if "account_id" in message and "stream" not in message:
        return str(message["account_id"])
    stream = str(message.get("stream") or "")
    if stream.startswith(ACCOUNT_STREAM_PREFIX) and changes_access([str(message.get("type"))]):
        return stream.removeprefix(ACCOUNT_STREAM_PREFIX)
    return None


def announcer(publish: Callable[..., None]) -> Callable[[str], None]:
    """``announce(account_id)`` over nameko's confirming ``Publisher``. A failed publish is
    logged, not raised: the change is committed, and its relayed events still reach the
    gateways (the backstop), later."""

    def announce(account_id: str) -> None:
        try:
            publish({"account_id": account_id})
        except Exception as exc:  # the broker: the relay's copy of the events follows
            log.error("access change not announced", account_id=account_id, error=str(exc))

    return announce
