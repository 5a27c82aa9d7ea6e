"""Projectors: event handlers that keep a read model, with the checkpoint in the same commit.

A projection reads one or more sources (its own service's store, or another service's
through the ``read_events`` RPC) from its checkpoints. Each batch is applied and the
checkpoint advanced in one transaction, so a crash loses nothing and repeats nothing. A
projector catches up from its sources whenever it runs; broker messages only wake it early.
``reset`` empties the read model and its checkpoints in one transaction; whichever replica is
active then replays from position 0 (``pmp projections rebuild``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import ClassVar, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp import checkpoints
from pmp.db import Database, advisory_key
from pmp.envelope import RecordedEvent
from pmp.leader import repeat_while_leading
from pmp.logs import correlation, get_logger
from pmp.sources import SourceUnavailable

log = get_logger(__name__)


class EventSource(Protocol):
    """Where a projector reads events: ``read(after, limit)`` in position order."""

    def read(self, after_position: int, limit: int) -> list[RecordedEvent]: ...


class Projection:
    """A read model: its tables, the services it reads, and how each event changes it."""

    name: ClassVar[str]  # "<service>.<read model>", unique across the system
    sources: ClassVar[tuple[str, ...]]  # services whose events it reads
    metadata: ClassVar[sa.MetaData]  # its tables, and nothing else
    max_batch: ClassVar[int] = 10_000  # events per commit at most (large events: fewer)
    source_batches: ClassVar[Mapping[str, int]] = {}  # the same, for one source
    own_streams: ClassVar[tuple[str, ...]] = ()  # of its own service's events, only these
    emits_events: ClassVar[bool] = False  # appends its own service's events (``append_in``)

    def attach(self, sources: Mapping[str, EventSource]) -> None:
        """Called once with the sources it will read; a projection that folds whole streams
        of its own service keeps that store here."""

    def begin_batch(self, conn: Connection, source: str, after_position: int) -> None:
        """Called in each batch's transaction before its first event is applied."""

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        raise NotImplementedError

    def end_batch(self, conn: Connection, source: str, last_position: int) -> None:
        """Called in the same transaction after the batch's last event, before the checkpoint
        moves: a projection that does its work once per batch rather than per event (the
        alerts watch evaluates each touched person once) does it here."""

    def clear(self, conn: Connection) -> None:
        """Empty the read model (before a replay)."""
        for table in reversed(self.metadata.sorted_tables):
            conn.execute(table.delete())


class Projector:
    """Runs one projection against its sources, inside the projection's database."""

    def __init__(
        self,
        db: Database,
        projection: Projection,
        sources: Mapping[str, EventSource],
        batch_size: int = 500,
        after_batch: Callable[[], None] | None = None,
    ):
        missing = set(projection.sources) - set(sources)
        if missing:
            raise ValueError(f"{projection.name} needs sources {sorted(missing)}")
        self.db = db
        self.projection = projection
        self.sources = dict(sources)
        self.batch_sizes = {
            name: min(batch_size, projection.source_batches.get(name, projection.max_batch))
            for name in self.sources
        }
        self.after_batch = after_batch  # told of each committed batch (wakes the relay)
        projection.attach(self.sources)

    @property
    def name(self) -> str:
        return self.projection.name

    def create_tables(self) -> None:
        self.db.create(checkpoints.metadata)
        self.db.create(self.projection.metadata)

    def checkpoint_name(self, source: str) -> str:
        return f"{self.name}:{source}"

    def positions(self) -> dict[str, int]:
        """How far the read model has got in each source."""
        with self.db.read() as conn:
            return {s: checkpoints.read(conn, self.checkpoint_name(s)) for s in self.sources}

    def project_once(self) -> int:
        """Apply the next batch of every source; return the number of events applied."""
        applied = 0
        for source_name, source in self.sources.items():
            applied += self._project_batch(source_name, source)
        return applied

    def _project_batch(self, source_name: str, source: EventSource) -> int:
        checkpoint = self.checkpoint_name(source_name)
        with self.db.read() as conn:
            after = checkpoints.read(conn, checkpoint)
        batch = source.read(after, self.batch_sizes[source_name])
        if not batch:
            return 0
        with self.db.write() as conn:
            self._exclude_resets(conn)
            self.projection.begin_batch(conn, source_name, after)
            for event in batch:
                with correlation(event.metadata.correlation_id):
                    self.projection.apply(conn, source_name, event)
            self.projection.end_batch(conn, source_name, batch[-1].position)
            # Raises CheckpointMoved (rolling all of it back) if another replica or a reset
            # moved the checkpoint while this batch was being read.
            checkpoints.advance(conn, checkpoint, after, batch[-1].position)
        if self.after_batch:
            self.after_batch()
        log.debug("events projected", projection=self.name, source=source_name, count=len(batch))
        return len(batch)

    def _exclude_resets(self, conn: Connection) -> None:
        """Serialise batches and resets of this projection (SQLite serialises all writes)."""
        if self.db.is_postgresql:
            key = advisory_key(f"{self.db.schema}:projection:{self.name}")
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Project until every source has nothing newer; return the number of events."""
        total = 0
        while applied := self.project_once():
            total += applied
            if progress:
                progress(total)
        return total

    def reset(self) -> None:
        """Empty the read model and forget its checkpoints, atomically."""
        with self.db.write() as conn:
            self._exclude_resets(conn)
            self.projection.clear(conn)
            checkpoints.reset(conn, self.name)

    def run(self, stop: threading.Event, wake: threading.Event, poll_interval: float) -> None:
        """While ``stop`` is unset: lead if no other replica does, and keep the model current."""
        name = f"projector:{self.name}"
        repeat_while_leading(self.db, name, self._keep_current, stop, wake, poll_interval)

    def _keep_current(self) -> None:
        while True:
            try:
                self.catch_up()
                return
            except checkpoints.CheckpointMoved:
                log.info("checkpoint moved under the projector; re-reading", name=self.name)
            except SourceUnavailable as exc:  # starting up, or a service is down
                log.warning("waiting for a source", projection=self.name, reason=str(exc))
                return
