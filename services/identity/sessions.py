"""Where session tokens are looked up, and when each session was last used.

The account's events are the record of every session (``SessionStarted``/``SessionEnded``);
this table is the index from a token's hash to its session, plus the idle clock, which
changes on every request and so is not worth an event each time. The per-address sign-in
limit is counted by ``pmp/ratelimit.py``, the limiter every service shares. It is written after the
events: a session whose end is recorded but whose row is still open is refused anyway,
because the account's state, not this table, decides whether a session is open.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from pmp.db import Database, UtcDateTime
from pmp.ratelimit import Limit, RateLimited, client_key

metadata = sa.MetaData()

session_tokens = sa.Table(
    "session_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("session_id", sa.Uuid, nullable=False, unique=True),
    sa.Column("account_id", sa.Uuid, nullable=False, index=True),
    sa.Column("last_seen_at", UtcDateTime(), nullable=False),
    sa.Column("ended", sa.Boolean, nullable=False, default=False),
)

TOUCH_EVERY = timedelta(seconds=10)  # idle time is tracked to this precision


@dataclass(frozen=True)
class TokenRow:
    session_id: str
    account_id: str
    last_seen_at: datetime


class SessionIndex:
    def __init__(self, db: Database):
        self.db = db

    def add(self, token_hash: str, session_id: str, account_id: str, now: datetime) -> None:
        with self.db.write() as conn:
            conn.execute(
                session_tokens.insert().values(
                    token_hash=token_hash,
                    session_id=_uuid(session_id),
                    account_id=_uuid(account_id),
                    last_seen_at=now,
                    ended=False,
                )
            )

    def find(self, token_hash: str) -> TokenRow | None:
        query = sa.select(session_tokens).where(
            session_tokens.c.token_hash == token_hash, session_tokens.c.ended.is_(False)
        )
        with self.db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return TokenRow(str(row.session_id), str(row.account_id), row.last_seen_at)

    def touch(self, token_hash: str, last_seen_at: datetime, now: datetime) -> None:
        if now - last_seen_at < TOUCH_EVERY:
            return
        with self.db.write() as conn:
            conn.execute(
                session_tokens.update()
                .where(session_tokens.c.token_hash == token_hash)
                .values(last_seen_at=now)
            )

    def end(self, session_ids: list[str]) -> None:
        if not session_ids:
            return
        with self.db.write() as conn:
            conn.execute(
                session_tokens.update()
                .where(session_tokens.c.session_id.in_([_uuid(s) for s in session_ids]))
                .values(ended=True)
            )


class TooManyAttempts(RateLimited):
    """Too many sign-in attempts from one client address; ``retry_after`` in seconds."""


def sign_in_check(client: str, limit: tuple[int, int]) -> list[tuple[str, Limit, str]]:
    """The per-address sign-in limit (``PMP_LOGIN_RATE_LIMIT``), for ``RateLimit.check``."""
    refusal = "Too many sign-in attempts from your network."
    return [(client_key("sign-in", client), Limit.of(limit), refusal)]


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(value)
