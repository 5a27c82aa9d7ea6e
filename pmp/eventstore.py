"""The event store: append-only streams with a global position, over SQLAlchemy Core.

Guarantees (each proved by ``tests/contract/test_event_store.py`` on SQLite and PostgreSQL):

1. ``append`` is atomic; a wrong expected version raises ``ConcurrencyError`` and writes
   nothing; appending an event id that is already stored is a no-op.
2. Every event gets a global ``position``, and positions become visible in increasing order:
   a reader that remembers the last position it saw never skips an event.
3. Events are validated against their schema on append and upcast on read.

Layout. Each append writes one row to ``appends`` (its batch) and one row per event to
``events``; an event's position is its batch's ``first_position`` plus its place in the batch.
Positions therefore live on the narrow ``appends`` rows, one per commit, not on events.

How guarantee 2 holds without serialising writers. SQLite has one writer at a time, so a
batch's positions are taken at insert (above the highest so far, under the write lock) and
commit order is insert order. PostgreSQL writers insert concurrently with no positions; a
reader first *stamps* every committed, unstamped batch, in one short transaction holding a
transaction-level advisory lock. A stamp only sees committed batches, stamps are serialised
by the lock, and the lock is released only after the stamp's commit is visible, so positions
are handed out in commit order and each stamp continues above the one before. A writer that
commits late simply gets its positions late; no reader can have read past them.

Sizes. An event's data may be at most ``MAX_EVENT_BYTES`` encoded (``EventTooLarge`` at
append), far below RabbitMQ's 128 MiB message limit: each event is one relayed message.
Readers that pass ``max_bytes`` get whole events up to that many bytes of data (always at
least one), so a read of many large events (a bulk intake's 1,000-record batches) stays a
few megabytes however many events it may return; rows past the budget are never fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from pmp import postgres
from pmp.db import Database, UtcDateTime, advisory_key, insert_rows
from pmp.envelope import EventBatch, Metadata, NewEvent, RecordedEvent
from pmp.registry import EventRegistry

metadata = sa.MetaData()

appends = sa.Table(
    "appends",
    metadata,
    sa.Column("batch", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("first_position", sa.BigInteger, nullable=True),
    sa.Column("last_position", sa.BigInteger, nullable=True),
)
sa.Index(
    "ix_appends_last_position",
    appends.c.last_position,
    unique=True,
    postgresql_where=appends.c.last_position.is_not(None),
)
# The stamper's work list: committed batches still waiting for positions.
sa.Index(
    "ix_appends_unstamped", appends.c.batch, postgresql_where=appends.c.last_position.is_(None)
).ddl_if(dialect="postgresql")

events = sa.Table(
    "events",
    metadata,
    sa.Column("batch", sa.BigInteger, primary_key=True),
    sa.Column("n", sa.Integer, primary_key=True),  # 1.. within the batch
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
)

_position = (appends.c.first_position + events.c.n - 1).label("position")
_joined = events.join(appends, appends.c.batch == events.c.batch)

# The statements of every append and read, built once: building one costs SQLAlchemy about
# as much as SQLite's execution of it, and a lookup runs a few dozen of them.
_after = sa.bindparam("after", type_=sa.BigInteger)
_READ = (
    sa.select(
        *(c for c in events.c if c.name != "data"),
        sa.cast(events.c.data, sa.Text).label("data"),
        _position,
    )
    .select_from(_joined)
    .where(appends.c.last_position > _after, _position > _after)
    .order_by(appends.c.last_position, events.c.n)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)
_READ_STREAMS = _READ.where(events.c.stream.in_(sa.bindparam("streams", expanding=True)))
_READ_STREAM = (
    sa.select(events, _position)
    .select_from(_joined)
    .where(events.c.stream == sa.bindparam("stream"), events.c.version > sa.bindparam("version"))
    .order_by(events.c.version)
)
_STREAM_VERSION = sa.select(sa.func.coalesce(sa.func.max(events.c.version), 0)).where(
    events.c.stream == sa.bindparam("stream")
)
_TOP_POSITION = sa.select(sa.func.coalesce(sa.func.max(appends.c.last_position), 0))
_NEW_APPEND = appends.insert()
_STAMP_BATCHES = 10_000
MAX_EVENT_BYTES = 16 * 1024 * 1024
_FETCH_ROWS = 16  # rows fetched at a time by a read bounded in bytes


class ConcurrencyError(Exception):
    """The stream was not at the version the writer expected; nothing was written."""

    def __init__(self, stream: str, expected: int | None, actual: int):
        self.stream, self.expected, self.actual = stream, expected, actual
        super().__init__(f"stream {stream!r} is at version {actual}, not {expected}")


class EventTooLarge(ValueError):
    """An event's data is over ``MAX_EVENT_BYTES`` encoded; nothing of its append was written."""


class EventIdReused(ValueError):
    """Some, not all, event ids of an append are already stored: a caller's bug."""


class EventStore:
    """Streams of one service, in that service's database."""

    ANY = None  # expected_version for appends that need no optimistic check

    def __init__(self, db: Database, registry: EventRegistry):
        self.db = db
        self.appends_in = 0  # calls of ``append_in`` in this process (committed or not)
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
        exist yet), or ``EventStore.ANY``. Event data is stored as given, in its JSON form,
        once its schema accepts it.
        """
        if not new_events:
            raise ValueError("append needs at least one event")
        versions = self.registry.validate_all([(e.type, e.data) for e in new_events])
        _refuse_oversized(new_events)
        rows = [self._row(event, v) for event, v in zip(new_events, versions, strict=True)]
        for attempt in range(5):
            try:
                version = self._insert(stream, expected_version, rows)
            except (sa.exc.IntegrityError, postgres.StreamVersionTaken) as exc:
                replayed = self._already_stored(rows)
                if replayed is not None:
                    return replayed
                if expected_version is not None or attempt == 4:
                    raise ConcurrencyError(stream, expected_version, self._version(stream)) from exc
                continue
            if version is None:
                replayed = self._already_stored(rows)
                if replayed is not None:
                    return replayed
                raise ConcurrencyError(stream, expected_version, self._version(stream))
            return version
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _row(event: NewEvent, schema_version: int) -> dict:
        meta = event.metadata
        return {
            "event_id": event.event_id,
            "type": event.type,
            "schema_version": schema_version,
            "data": event.data,
            "occurred_at": meta.occurred_at.astimezone(UTC),
            "actor_id": meta.actor_id,
            "actor_role": meta.actor_role,
            "correlation_id": meta.correlation_id,
            "causation_id": meta.causation_id,
        }

    def _insert(self, stream: str, expected_version: int | None, rows: list[dict]) -> int | None:
        """The stream's new version, or None when it was not at ``expected_version``."""
        if self.db.is_postgresql:
            return postgres.append(self.db, stream, expected_version, rows)
        with self.db.write() as conn:
            current = self._version_in(conn, stream)
            if expected_version is not None and current != expected_version:
                return None
            return self._insert_in(conn, stream, current, rows)

    def append_in(self, conn: sa.Connection, stream: str, new_events: Sequence[NewEvent]) -> int:
        """Append ``new_events`` inside the caller's write transaction; the stream's new
        version. A projection that derives events (the alerts a dispensation raises) commits
        them with its checkpoint this way, so a crash can neither lose nor repeat them. There
        is no expected version: the one active projector is the only writer of its streams.
        """
        versions = self.registry.validate_all([(e.type, e.data) for e in new_events])
        _refuse_oversized(new_events)
        rows = [self._row(event, v) for event, v in zip(new_events, versions, strict=True)]
        self.appends_in += 1
        return self._insert_in(conn, stream, self._version_in(conn, stream), rows)

    def _insert_in(self, conn: sa.Connection, stream: str, current: int, rows: list[dict]) -> int:
        if self.db.is_postgresql:  # positions are stamped by readers after commit
            positions = {}
        else:  # one writer at a time: take the positions now, above the highest so far
            top = conn.scalar(_TOP_POSITION)
            positions = {"first_position": top + 1, "last_position": top + len(rows)}
        batch = conn.execute(_NEW_APPEND, {"size": len(rows), **positions}).inserted_primary_key[0]
        insert_rows(
            conn,
            events,
            [
                {**row, "batch": batch, "n": n, "stream": stream, "version": current + n}
                for n, row in enumerate(rows, start=1)
            ],
        )
        return current + len(rows)

    def _version(self, stream: str) -> int:
        with self.db.read() as conn:
            return self._version_in(conn, stream)

    @staticmethod
    def _version_in(conn: sa.Connection, stream: str) -> int:
        return conn.scalar(_STREAM_VERSION, {"stream": stream})

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

    def read_stream(
        self, stream: str, after_version: int = 0, types: Sequence[str] | None = None
    ) -> list[RecordedEvent]:
        """The events of ``stream`` after ``after_version``, oldest first; with ``types``,
        only events of those types (the others' data is never read: a submission's outcome
        without its megabyte batches of records).

        Loading an aggregate needs no positions, so this does not stamp: on PostgreSQL the
        newest events may come back with ``position`` None.
        """
        query = _READ_STREAM if types is None else _READ_STREAM.where(events.c.type.in_(types))
        with self.db.read() as conn:
            found = conn.execute(query, {"stream": stream, "version": after_version})
            return [self._recorded(row) for row in found]

    def read_all(
        self,
        after_position: int = 0,
        limit: int = 500,
        *,
        as_stored: bool = False,
        max_bytes: int | None = None,
    ) -> EventBatch:
        """Up to ``limit`` events after ``after_position``, in position order; with
        ``max_bytes``, only as many whole events as fit in that many bytes of data (at
        least one).

        ``as_stored``: each current event's data stays its stored JSON text, wrapped in an
        ``orjson.Fragment`` that ``orjson.dumps`` copies as is (the relay publishes without
        decoding and re-encoding a 1,000-record batch); an event stored at an older schema
        version is decoded and upcast as usual."""
        self._stamp()
        return self._read(
            _READ, {}, after_position, limit, max_bytes=max_bytes, as_stored=as_stored
        )

    def read_streams(
        self,
        streams: Sequence[str],
        after_position: int = 0,
        limit: int = 500,
        *,
        max_bytes: int | None = None,
    ) -> EventBatch:
        """``read_all`` of only the events of ``streams``: a projection of a few rare streams
        of its own service (the alert policy) need not read past everything else it wrote.
        Found through the stream index, however many other events follow."""
        self._stamp()
        return self._read(
            _READ_STREAMS, {"streams": list(streams)}, after_position, limit, max_bytes=max_bytes
        )

    def _read(
        self,
        query: sa.Select,
        params: dict[str, Any],
        after_position: int,
        limit: int,
        *,
        max_bytes: int | None,
        as_stored: bool = False,
    ) -> EventBatch:
        """Events after ``after_position`` that ``query`` (``_READ`` or a narrower form of
        it) finds, their data read as its JSON text (which gives each event's size before it
        is decoded), fetched a few rows at a time and no further than ``max_bytes``."""
        params = {**params, "after": after_position, "limit": limit}
        found = EventBatch(more=False)
        taken = 0
        with self.db.read() as conn:
            rows = conn.execution_options(yield_per=_FETCH_ROWS).execute(query, params)
            for row in rows:
                size = len(row.data)
                if max_bytes is not None and found and taken + size > max_bytes:
                    found.more = True
                    break
                found.append(self._recorded(row, as_stored))
                taken += size
        found.more = found.more or len(found) >= limit
        return found

    def head_of(self, streams: Sequence[str]) -> int:
        """The position of the newest event of ``streams`` (0: none yet)."""
        self._stamp()
        query = (
            sa.select(sa.func.coalesce(sa.func.max(_position), 0))
            .select_from(_joined)
            .where(events.c.stream.in_(streams), appends.c.last_position.is_not(None))
        )
        with self.db.read() as conn:
            return conn.scalar(query)

    def head_position(self) -> int:
        """The position of the newest event every reader can see (0: the store is empty)."""
        self._stamp()
        with self.db.read() as conn:
            return conn.scalar(_TOP_POSITION)

    def _stamp(self) -> None:
        """Give every committed, unstamped batch its positions (PostgreSQL only)."""
        if not self.db.is_postgresql:
            return
        while postgres.stamp(self.db, self._stamp_lock_key, _STAMP_BATCHES) == _STAMP_BATCHES:
            pass

    def _recorded(self, row: sa.Row, as_stored: bool = False) -> RecordedEvent:
        """``row`` as a recorded event; its data is JSON text when read by position (then
        decoded, unless ``as_stored`` keeps it as it is), already decoded when read by stream."""
        data, schema_version = row.data, row.schema_version
        if as_stored and self.registry.is_current(row.type, schema_version):
            data = orjson.Fragment(data)
        else:
            if isinstance(data, str):
                data = orjson.loads(data)
            data, schema_version = self.registry.upcast(row.type, schema_version, data)
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


def _refuse_oversized(new_events: Sequence[NewEvent]) -> None:
    """Raise ``EventTooLarge`` naming the first event whose data is over the limit."""
    for event in new_events:
        size = len(orjson.dumps(event.data))
        if size > MAX_EVENT_BYTES:
            raise EventTooLarge(
                f"a {event.type} event of {size:,} bytes is over the {MAX_EVENT_BYTES:,} bytes "
                "one event may hold (each event is one broker message and one read); "
                "append its content as several smaller events"
            )
