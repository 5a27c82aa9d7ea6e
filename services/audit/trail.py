"""The audit trail: every event of every service, hash-chained, append-only.

Entries are numbered 1, 2, ... in the order they were chained. Each service's events are
chained in its own position order with no position skipped: ``append`` refuses a batch that
would leave a gap (the caller fills it from the source's store first) and passes over events
it already holds, so a message delivered twice is chained once. The database refuses to
UPDATE or DELETE an entry (triggers made with the table, on both backends); ``verify`` shows
whether anything was changed anyway by someone able to drop them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.db import UtcDateTime, insert_rows
from pmp.envelope import RecordedEvent
from services.audit.chain import GENESIS, canonical, link

metadata = sa.MetaData()

entries = sa.Table(
    "audit_entries",
    metadata,
    sa.Column("n", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=False),
    sa.Column("source", sa.String(40), nullable=False),
    sa.Column("source_position", sa.BigInteger, nullable=False),
    sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
    sa.Column("stream", sa.String(200), nullable=False, index=True),  # "account-<id>", ...
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("actor_id", sa.String(64), index=True),
    sa.Column("body", sa.Text, nullable=False),  # the canonical bytes the hash covers
    sa.Column("previous_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("source", "source_position", name="uq_audit_source_position"),
)  # fmt: skip

REFUSAL = "the audit trail is append-only"
# Created with the table: the database itself refuses to change or delete an entry.
_GUARDS = {
    "sqlite": [
        f"CREATE TRIGGER audit_entries_no_{verb.lower()} BEFORE {verb} ON audit_entries "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        for verb in ("UPDATE", "DELETE")
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_entries_refuse() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$",
        "CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries "
        "FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse()",
        "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse()",
    ],
}
for _dialect, _statements in _GUARDS.items():
    for _statement in _statements:
        sa.event.listen(entries, "after_create", sa.DDL(_statement).execute_if(dialect=_dialect))


class Gap(Exception):
    """A source's events would be chained with positions missing before them."""

    def __init__(self, source: str, after: int, got: int):
        super().__init__(f"{source}: positions {after + 1} to {got - 1} are not chained yet")
        self.source, self.after, self.got = source, after, got


@dataclass(frozen=True)
class Head:
    count: int
    hash: str


def head(conn: Connection) -> Head:
    newest = sa.select(entries.c.n, entries.c.hash).order_by(entries.c.n.desc()).limit(1)
    row = conn.execute(newest).first()
    return Head(row.n, row.hash) if row else Head(0, GENESIS)


def hash_at(conn: Connection, n: int) -> str | None:
    """The hash of entry ``n`` (None: no such entry)."""
    return conn.scalar(sa.select(entries.c.hash).where(entries.c.n == n))


def last_position(conn: Connection, source: str) -> int:
    """The position of ``source``'s newest chained event (0: none yet)."""
    found = conn.scalar(
        sa.select(sa.func.max(entries.c.source_position)).where(entries.c.source == source)
    )
    return found or 0


def append(conn: Connection, source: str, events: Sequence[RecordedEvent]) -> int:
    """Chain ``events`` of ``source`` (in position order) after those it holds; return how
    many were new. Raises ``Gap`` (chaining none) if a position before the first new one is
    missing."""
    after = last_position(conn, source)
    fresh = [e for e in events if e.position is not None and e.position > after]
    if not fresh:
        return 0
    for expected, event in enumerate(fresh, start=after + 1):
        if event.position != expected:
            raise Gap(source, expected - 1, event.position)  # type: ignore[arg-type]
    top = head(conn)
    previous, rows = top.hash, []
    for n, event in enumerate(fresh, start=top.count + 1):
        body = canonical(source, event)
        digest = link(previous, body)
        rows.append(
            {
                "n": n,
                "source": source,
                "source_position": event.position,
                "event_id": event.event_id,
                "stream": event.stream,
                "event_type": event.type,
                "occurred_at": event.metadata.occurred_at,
                "actor_id": event.metadata.actor_id,
                "body": body.decode(),
                "previous_hash": previous,
                "hash": digest,
            }
        )
        previous = digest
    insert_rows(conn, entries, rows)
    return len(rows)


@dataclass(frozen=True)
class Verdict:
    """What ``verify`` found: the count and head hash, or the first entry that is wrong."""

    count: int
    head_hash: str
    broken_at: int | None = None  # the entry's number
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify(conn: Connection, chunk: int = 5_000) -> Verdict:
    """Walk the whole chain: numbers without holes, each hash from the one before and the
    entry's own bytes, its columns as its bytes say, and each source's positions 1, 2, ..."""
    previous, count = GENESIS, 0
    positions: dict[str, int] = {}
    for row in _in_order(conn, chunk):
        count += 1
        wrong = _wrong(row, count, previous, positions)
        if wrong:
            return Verdict(count - 1, previous, row.n, wrong)
        previous = row.hash
    return Verdict(count, previous)


def _wrong(row: sa.Row, n: int, previous: str, positions: dict[str, int]) -> str:
    if row.n != n:
        return f"entry {n} is missing"
    if row.previous_hash != previous:
        return "its previous hash is not the hash of the entry before it"
    if link(previous, row.body.encode()) != row.hash:
        return "its hash does not match its contents"
    try:
        body = orjson.loads(row.body)
    except orjson.JSONDecodeError:
        return "its contents are not the event it was given"
    meta = body.get("metadata") or {}
    said = (body.get("source"), body.get("position"), body.get("event_id"), body.get("stream"),
            body.get("type"), meta.get("actor_id"), meta.get("occurred_at"))  # fmt: skip
    held = (row.source, row.source_position, str(row.event_id), row.stream, row.event_type,
            row.actor_id, row.occurred_at.astimezone(UTC).isoformat())  # fmt: skip
    if said != held:
        return "its columns do not match its contents"
    expected = positions.get(row.source, 0) + 1
    if row.source_position != expected:
        return f"{row.source} position {expected} is missing before it"
    positions[row.source] = expected
    return ""


def _in_order(conn: Connection, chunk: int) -> Iterator[sa.Row]:
    after = 0
    while True:
        rows = conn.execute(
            sa.select(entries).where(entries.c.n > after).order_by(entries.c.n).limit(chunk)
        ).all()
        yield from rows
        if len(rows) < chunk:
            return
        after = rows[-1].n
