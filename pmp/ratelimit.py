"""Fixed-window rate limits kept in a service's own database, so its replicas share them.

One table, ``rate_limits``, counts what was asked per key (``sign-in:<client>``,
``mail-to:<hash of an address>``, ...) in the window that began with the key's first
request. Past the limit a ``RateLimited`` error says when to try again; the gateway answers
it with 429 and ``Retry-After``. Addresses are kept only as hashes: the table is an
operational counter, not a record of who wrote to whom. A row whose window has ended counts
nothing any more and is deleted (every ``PRUNE_EVERY``, by whichever request comes then):
one row per client address and per recipient ever seen would otherwise pile up for good.

The error crosses RPC as its class name and message (nameko's ``RemoteError``), so the
message carries the wait in words this module also reads back (``retry_after``).
"""

from __future__ import annotations

import hashlib
import math
import re
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from pmp.config import Settings
from pmp.db import Database, UtcDateTime

metadata = sa.MetaData()

rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(120), primary_key=True),
    sa.Column("window_started_at", UtcDateTime(), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("window_ends_at", UtcDateTime()),  # None: a row from before it was kept
)

PRUNE_EVERY = timedelta(minutes=10)
#: Rows from before ``window_ends_at`` was kept are deleted this long after their window began.
OLD_ROWS_KEPT = timedelta(days=1)
_pruned_at: weakref.WeakKeyDictionary[Database, datetime] = weakref.WeakKeyDictionary()

_WAIT = re.compile(r"Try again in (\d+) (second|minute)s?\.")


class RateLimited(Exception):
    """Too many requests of one kind; ``retry_after`` in seconds."""

    def __init__(self, what: str, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"{what} Try again in {_wait_words(retry_after)}.")


def _wait_words(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


def retry_after(message: str) -> int | None:
    """The seconds to wait named in a ``RateLimited`` message (rounded up to the minute
    when the message counts minutes), or None if it names none."""
    found = _WAIT.search(message or "")
    if found is None:
        return None
    return int(found.group(1)) * (60 if found.group(2) == "minute" else 1)


def address_key(kind: str, address: str) -> str:
    """The key for an email address: hashed, after the case and spaces that do not matter."""
    digest = hashlib.sha256(address.strip().lower().encode()).hexdigest()[:40]
    return f"{kind}:{digest}"


def client_key(kind: str, client: str) -> str:
    return f"{kind}:{(client or 'unknown')[:64]}"


@dataclass(frozen=True)
class Limit:
    """``count`` requests per ``seconds``; read from settings as ``count/seconds``."""

    count: int
    seconds: int

    @classmethod
    def of(cls, pair: tuple[int, int]) -> Limit:
        return cls(*pair)


class RateLimit:
    """Counts requests per key in fixed windows, in ``db`` (shared by every replica)."""

    def __init__(self, db: Database):
        self.db = db

    def check(
        self,
        checks: list[tuple[str, Limit, str]],
        now: datetime,
        error: type[RateLimited] = RateLimited,
    ) -> None:
        """Count one request against each ``(key, limit, refusal)`` in order; raise
        ``error`` (a ``RateLimited``) at the first limit passed. The refused request counts
        against that key, and the keys after it are not counted: a client past its limit
        adds no row per recipient it names."""
        self._prune_now_and_then(now)
        for key, limit, what in checks:
            started, count = self._count(key, limit, now)
            if count > limit.count:
                remaining = started + timedelta(seconds=limit.seconds) - now
                raise error(what, max(1, math.ceil(remaining.total_seconds())))

    def _count(self, key: str, limit: Limit, now: datetime) -> tuple[datetime, int]:
        try:
            return self._increment(key, limit, now)
        except sa.exc.IntegrityError:  # two first requests raced to insert: count again
            return self._increment(key, limit, now)

    def _increment(self, key: str, limit: Limit, now: datetime) -> tuple[datetime, int]:
        window = timedelta(seconds=limit.seconds)
        with self.db.write() as conn:
            row = conn.execute(
                sa.select(rate_limits).where(rate_limits.c.key == key).with_for_update()
            ).first()
            if row is None:
                conn.execute(
                    rate_limits.insert().values(
                        key=key, window_started_at=now, count=1, window_ends_at=now + window
                    )
                )
                return now, 1
            if now - row.window_started_at >= window:
                started, count = now, 1
            else:
                started, count = row.window_started_at, row.count + 1
            conn.execute(
                rate_limits.update()
                .where(rate_limits.c.key == key)
                .values(window_started_at=started, count=count, window_ends_at=started + window)
            )
        return started, count

    def prune(self, now: datetime) -> int:
        """Delete the rows whose window has ended; how many."""
        ended = rate_limits.c.window_ends_at < now
        old = rate_limits.c.window_ends_at.is_(None) & (
            rate_limits.c.window_started_at < now - OLD_ROWS_KEPT
        )
        with self.db.write() as conn:
            return conn.execute(rate_limits.delete().where(ended | old)).rowcount

    def _prune_now_and_then(self, now: datetime) -> None:
        last = _pruned_at.get(self.db)
        if last is not None and abs(now - last) < PRUNE_EVERY:
            return
        _pruned_at[self.db] = now
        self.prune(now)


TOO_MANY_TO_ADDRESS = "Too many emails were asked for this address."
TOO_MANY_FROM_CLIENT = "Too many emails were asked from your network."


def mail_checks(
    settings: Settings, kind: str, recipient: str, client: str | None = None
) -> list[tuple[str, Limit, str]]:
    """The limits on one email of ``kind`` (``sign-up``, ``ticket``, ...) that a person
    asked for: per client address for all kinds, then per recipient address for that kind
    (counted for any address, known to the service or not, so a refusal reveals nothing)."""
    checks = []
    if client is not None:
        checks.append(
            (
                client_key("mail-from", client),
                Limit.of(settings.mail_limit_per_client),
                TOO_MANY_FROM_CLIENT,
            )
        )
    checks.append(
        (
            address_key(f"mail-to:{kind}", recipient),
            Limit.of(settings.mail_limit_per_recipient),
            TOO_MANY_TO_ADDRESS,
        )
    )
    return checks
