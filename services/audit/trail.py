"""The audit trail: every event of every service, hash-chained, append-only.

Entries are numbered 1, 2, ... in the order they were chained. Each service's events are
chained in its own position order with no position skipped: ``append`` refuses a batch that
would leave a gap (the caller fills it from the source's store first) and passes over events
it already holds, so a message delivered twice is chained once. The database refuses to
UPDATE or DELETE an entry (triggers made with the table, on both backends); ``verify`` shows
whether anything was changed anyway by someone able to drop them.
"""

from __future__ import annotations

import uuid
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

# Which patients an entry concerns (a search's or a report's persons): derived from its
# bytes, so investigators can ask "who looked at this patient", and checked by ``verify``.
patients = sa.Table(
    "audit_patients",
    metadata,
    sa.Column("person_id", sa.Uuid, primary_key=True),
    sa.Column("n", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
              autoincrement=False),
)  # fmt: skip

REFUSAL = "the audit trail is append-only"


def guards(table: str) -> dict[str, list[str]]:
    """Created with the table: the database itself refuses to change or delete a row."""
    return {
        "sqlite": [
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
            for verb in ("UPDATE", "DELETE")
        ],
        "postgresql": [
            "CREATE OR REPLACE FUNCTION audit_entries_refuse() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$",
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse()",
        ],
    }


for _table in (entries, patients):
    for _dialect, _statements in guards(_table.name).items():
        for _statement in _statements:
            sa.event.listen(_table, "after_create", sa.DDL(_statement).execute_if(dialect=_dialect))


def persons_of(data: dict) -> set[uuid.UUID]:
    """The patients an event's data names: ``person_ids`` (searches, reports), ``person_id``."""
    named = list(data.get("person_ids") or [])
    if data.get("person_id"):
        named.append(data["person_id"])
    found = set()
    for value in named:
        try:
            found.add(uuid.UUID(str(value)))
        except ValueError:
            continue
    return found


class Gap(Exception):
    """A source's events would be chained with positions missing before them."""

    def __init__(self, source: str, after: int, got: int):
        super().__init__(f"{source}: positions {after + 1} to {got - 1} are not chained yet")
        self.source, self.after, self.got = source, after, got


@dataclass(frozen=True)
class Head:
    count: int
    hash: str


# Built once: every batch the trail chains runs both (see ``pmp.eventstore``).
_NEWEST = sa.select(entries.c.n, entries.c.hash).order_by(entries.c.n.desc()).limit(1)
_LAST_POSITION = sa.select(sa.func.max(entries.c.source_position)).where(
    entries.c.source == sa.bindparam("source")
)


def head(conn: Connection) -> Head:
    row = conn.execute(_NEWEST).first()
    return Head(row.n, row.hash) if row else Head(0, GENESIS)


def hash_at(conn: Connection, n: int) -> str | None:
    """The hash of entry ``n`` (None: no such entry)."""
    return conn.scalar(sa.select(entries.c.hash).where(entries.c.n == n))


def last_position(conn: Connection, source: str) -> int:
    """The position of ``source``'s newest chained event (0: none yet)."""
    return conn.scalar(_LAST_POSITION, {"source": source}) or 0


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
    concerned = [
        {"person_id": person, "n": row["n"]}
        for row, event in zip(rows, fresh, strict=True)
        for person in persons_of(event.data)
    ]
    insert_rows(conn, patients, concerned)
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
    entry's own bytes, its columns and its patients as its bytes say, and each source's
    positions 1, 2, ..."""
    previous, count = GENESIS, 0
    positions: dict[str, int] = {}
    for row, concerned in _in_order(conn, chunk):
        count += 1
        wrong = _wrong(row, count, previous, positions, concerned)
        if wrong:
            return Verdict(count - 1, previous, row.n, wrong)
        previous = row.hash
    return Verdict(count, previous)


def _wrong(
    row: sa.Row, n: int, previous: str, positions: dict[str, int], concerned: set[uuid.UUID]
) -> str:
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
    if concerned != persons_of(body.get("data") or {}):
        return "the patients it is listed under do not match its contents"
    expected = positions.get(row.source, 0) + 1
    if row.source_position != expected:
        return f"{row.source} position {expected} is missing before it"
    positions[row.source] = expected
    return ""


def _in_order(conn: Connection, chunk: int) -> Iterator[tuple[sa.Row, set[uuid.UUID]]]:
    """Entries by number, each with the patients it is listed under."""
    after = 0
    while True:
        rows = conn.execute(
            sa.select(entries).where(entries.c.n > after).order_by(entries.c.n).limit(chunk)
        ).all()
        listed: dict[int, set[uuid.UUID]] = {}
        if rows:
            span = patients.c.n.between(rows[0].n, rows[-1].n)
            query = sa.select(patients.c.person_id, patients.c.n).where(span)
            for person, n in conn.execute(query):
                listed.setdefault(n, set()).add(person)
        for row in rows:
            yield row, listed.get(row.n, set())
        if len(rows) < chunk:
            return
        after = rows[-1].n
