"""The event store: append-only streams with a global position, over SQLAlchemy Core.

Guarantees (each proved by ``tests/contract/test_event_store.py`` on SQLite and PostgreSQL):

1. ``append`` is atomic; a wrong expected version raises ``ConcurrencyError`` and writes
   nothing; appending an event id that is already stored is a no-op.
2. Every event gets a global ``position``, and positions become visible in increasing order:
   a reader that remembers the last position it saw never skips an event.
3. Events are validated against their schema on append and upcast on read.

How guarantee 2 holds without serialising writers. SQLite has one writer at a time, so the
position is taken at insert (``max + 1`` under the write lock) and commit order is insert
order. PostgreSQL writers insert concurrently with no position; a reader first *stamps*
positions on every committed, unstamped event, in one short transaction that holds a
transaction-level advisory lock. A stamp only sees committed rows, stamps are serialised by
the lock, and the lock is released only after the stamp's commit is visible, so positions
are handed out in commit order and a later stamp always continues above an earlier one.
A writer that commits late simply gets its position late; nobody can have read past it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from pmp.db import Database, UtcDateTime, advisory_key
from pmp.envelope import Metadata, NewEvent, RecordedEvent
from pmp.registry import EventRegistry

metadata = sa.MetaData()

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=True),
    sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
    sa.Column("stream", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("schema_version", sa.SmallInteger, nullable=False),
    sa.Column("data", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("actor_id", sa.String(64)),
    sa.Column("actor_role", sa.String(64)),
    sa.Column("correlation_id", sa.String(64)),
    sa.Column("causation_id", sa.String(64)),
    sa.UniqueConstraint("stream", "version", name="uq_events_stream_version"),
    sa.Index("ix_events_position", "position", unique=True),
)
# The stamper's work list: committed events still waiting for a position.
sa.Index("ix_events_unstamped", events.c.id, postgresql_where=events.c.position.is_(None)).ddl_if(
    dialect="postgresql"
)

_STAMP = sa.text(
    """
    WITH pending AS (
        SELECT id, row_number() OVER (ORDER BY id) AS n
        FROM events WHERE position IS NULL ORDER BY id LIMIT :limit
    ), base AS (
        SELECT coalesce(max(position), 0) AS top FROM events
    )
    UPDATE events SET position = base.top + pending.n
    FROM pending, base WHERE events.id = pending.id
    """
)
_STAMP_BATCH = 10_000


class ConcurrencyError(Exception):
    """The stream was not at the version the writer expected; nothing was written."""

    def __init__(self, stream: str, expected: int | None, actual: int):
        self.stream, self.expected, self.actual = stream, expected, actual
        super().__init__(f"stream {stream!r} is at version {actual}, not {expected}")


class EventIdReused(ValueError):
    """Some, not all, event ids of an append are already stored: a caller's bug."""


class EventStore:
    """Streams of one service, in that service's database."""

    ANY = None  # expected_version for appends that need no optimistic check

    def __init__(self, db: Database, registry: EventRegistry):
        self.db = db
        self.registry = registry
        self._stamp_lock_key = advisory_key(f"{db.schema or db.path}:stamp")

    def create_tables(self) -> None:
        self.db.create(metadata)

    # -- writing -----------------------------------------------------------------------

    def append(
        self, stream: str, expected_version: int | None, new_events: Sequence[NewEvent]
    ) -> int:
        """Append ``new_events`` after ``expected_version``; return the stream's new version.

        ``expected_version`` is the version the caller last saw (0: the stream must not
        exist yet), or ``EventStore.ANY``.
        """
        if not new_events:
            raise ValueError("append needs at least one event")
        rows = [self._row(stream, event) for event in new_events]
        for attempt in range(5):
            try:
                return self._insert(stream, expected_version, rows)
            except ConcurrencyError:
                replayed = self._already_stored(rows)
                if replayed is not None:
                    return replayed
                raise
            except sa.exc.IntegrityError as exc:
                replayed = self._already_stored(rows)
                if replayed is not None:
                    return replayed
                if expected_version is not None or attempt == 4:
                    raise ConcurrencyError(stream, expected_version, -1) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _row(self, stream: str, event: NewEvent) -> dict:
        data, schema_version = self.registry.validate(event.type, event.data)
        meta = event.metadata
        return {
            "event_id": event.event_id,
            "stream": stream,
            "type": event.type,
            "schema_version": schema_version,
            "data": data,
            "occurred_at": meta.occurred_at.astimezone(UTC),
            "actor_id": meta.actor_id,
            "actor_role": meta.actor_role,
            "correlation_id": meta.correlation_id,
            "causation_id": meta.causation_id,
        }

    def _insert(self, stream: str, expected_version: int | None, rows: list[dict]) -> int:
        with self.db.write() as conn:
            current = conn.scalar(
                sa.select(sa.func.coalesce(sa.func.max(events.c.version), 0)).where(
                    events.c.stream == stream
                )
            )
            if expected_version is not None and current != expected_version:
                raise ConcurrencyError(stream, expected_version, current)
            top = None
            if not self.db.is_postgresql:  # one writer at a time: insert order is commit order
                top = conn.scalar(sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0)))
            conn.execute(
                events.insert(),
                [
                    {
                        **row,
                        "version": current + i,
                        "position": None if top is None else top + i,
                    }
                    for i, row in enumerate(rows, start=1)
                ],
            )
            return current + len(rows)

    def _already_stored(self, rows: list[dict]) -> int | None:
        """The stream version of a fully stored earlier append of these ids, else None."""
        ids = [row["event_id"] for row in rows]
        with self.db.read() as conn:
            found = conn.execute(
                sa.select(events.c.event_id, events.c.version).where(events.c.event_id.in_(ids))
            ).all()
        if not found:
            return None
        if len(found) != len(ids):
            raise EventIdReused(f"{len(found)} of {len(ids)} event ids are already stored")
        return max(version for _, version in found)

    # -- reading -----------------------------------------------------------------------

    def read_stream(self, stream: str, after_version: int = 0) -> list[RecordedEvent]:
        """The events of ``stream`` after ``after_version``, oldest first.

        Loading an aggregate needs no positions, so this does not stamp: on PostgreSQL the
        newest events may come back with ``position`` None.
        """
        query = (
            sa.select(events)
            .where(events.c.stream == stream, events.c.version > after_version)
            .order_by(events.c.version)
        )
        with self.db.read() as conn:
            return [self._recorded(row) for row in conn.execute(query)]

    def read_all(self, after_position: int = 0, limit: int = 500) -> list[RecordedEvent]:
        """Up to ``limit`` events after ``after_position``, in position order."""
        self._stamp()
        query = (
            sa.select(events)
            .where(events.c.position > after_position)
            .order_by(events.c.position)
            .limit(limit)
        )
        with self.db.read() as conn:
            return [self._recorded(row) for row in conn.execute(query)]

    def head_position(self) -> int:
        """The position of the newest event every reader can see (0: the store is empty)."""
        self._stamp()
        with self.db.read() as conn:
            return conn.scalar(sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0)))

    def _stamp(self) -> None:
        """Give every committed, unstamped event its position (PostgreSQL only)."""
        if not self.db.is_postgresql:
            return
        while True:
            with self.db.engine.begin() as conn:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(self._stamp_lock_key)))
                stamped = conn.execute(_STAMP, {"limit": _STAMP_BATCH}).rowcount
            if stamped < _STAMP_BATCH:
                return

    def _recorded(self, row: sa.Row) -> RecordedEvent:
        data, schema_version = self.registry.upcast(row.type, row.schema_version, row.data)
        return RecordedEvent(
            event_id=row.event_id,
            stream=row.stream,
            version=row.version,
            position=row.position,
            type=row.type,
            data=data,
            schema_version=schema_version,
            metadata=Metadata(
                occurred_at=row.occurred_at,
                actor_id=row.actor_id,
                actor_role=row.actor_role,
                correlation_id=row.correlation_id,
                causation_id=row.causation_id,
            ),
        )
