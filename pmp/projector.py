"""Projectors: event handlers that keep a read model, with the checkpoint in the same commit.

A projection reads one or more sources (its own service's store, or another service's
through the ``read_events`` RPC) from its checkpoints. Each batch is applied and the
checkpoint advanced in one transaction, so a crash loses nothing and repeats nothing. A
projector catches up from its sources whenever it runs; broker messages only wake it early.
``reset`` empties the read model and its checkpoints in one transaction; whichever replica is
active then replays from position 0 (``pmp projections rebuild``).

No projection stops on one event. When a batch fails it is rolled back and its events are
applied again one by one, each in its own transaction (``begin_batch``, ``apply``,
``end_batch``, checkpoint), so a failure at the end of a batch is pinned to one event too.
An event that fails alone twice more (three tries in all: in its batch, then twice alone)
is set aside (``pmp.setaside``) in the transaction that moves the checkpoint past it, and
the projection goes on. A transient failure (database, broker or source unavailable, the
checkpoint moved) sets nothing aside: it is retried from the checkpoint on the next poll.
Operators ask for a set-aside event to be tried again (``pmp projections retry``); the
replica that leads the projection does it between batches, from its checkpoint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp import checkpoints, setaside
from pmp.cooperate import let_others_run
from pmp.db import Database, advisory_key
from pmp.envelope import EventBatch, RecordedEvent
from pmp.leader import Trouble, repeat_while_leading
from pmp.logs import correlation, get_logger
from pmp.sources import SourceUnavailable

log = get_logger(__name__)


class EventSource(Protocol):
    """Where a projector reads events: ``read(after, limit)`` in position order (an
    ``EventBatch`` tells whether more may follow; a plain list is taken as maybe)."""

    def read(self, after_position: int, limit: int) -> Sequence[RecordedEvent]: ...


class NotRebuildable(RuntimeError):
    """Raised by ``Projection.clear`` of a read model that is never emptied (the audit
    trail): ``pmp projections rebuild`` refuses it, changing nothing."""


class Projection:
    """A read model: its tables, the services it reads, and how each event changes it."""

    name: ClassVar[str]  # "<service>.<read model>", unique across the system
    sources: ClassVar[tuple[str, ...]]  # services whose events it reads
    metadata: ClassVar[sa.MetaData]  # its tables, and nothing else
    max_batch: ClassVar[int] = 10_000  # events per commit at most (the read's byte budget
    # cuts batches of large events shorter: PMP_READ_BYTES)
    source_batches: ClassVar[Mapping[str, int]] = {}  # the same, for one source
    #: The event types it applies, for a source named here (a source not named: every
    #: type). Other events are passed over without a write: the checkpoint moves past them
    #: with the next batch applied, or once the projection has caught up.
    types: ClassVar[Mapping[str, frozenset[str]]] = {}
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

    def set_aside(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        """Called in the transaction that sets ``event`` aside and moves the checkpoint past
        it: a projection that must not leave a hole (the audit trail) marks the place."""

    #: Whether ``pmp projections retry`` can apply a set-aside event again later.
    retryable: ClassVar[bool] = True

    def clear(self, conn: Connection) -> None:
        """Empty the read model (before a replay)."""
        for table in reversed(self.metadata.sorted_tables):
            conn.execute(table.delete())


class Projector:
    """Runs one projection against its sources, inside the projection's database."""

    #: The longest a leader catches up before it checks its lead and the retries operators
    #: asked for again: behind steady appends a catch-up would otherwise never end.
    turn_seconds = 10.0
    #: While running, events passed over are written with the next batch applied, or once
    #: this many are held or the oldest was held this long: each lookup's two events would
    #: otherwise cost every projection that passes them a commit, and a checkpoint a few
    #: events behind costs a restart nothing (it reads them again and passes them again).
    passed_write_events = 1000
    passed_write_seconds = 30.0

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
        # Since when each source has had an event not yet applied (or been unreachable):
        # the projection's lag, for /healthz. None: caught up at the last look.
        self.waiting_since: dict[str, datetime | None] = dict.fromkeys(self.sources)
        self.leads = False  # whether this replica ran the projection at its last poll
        self.trouble = Trouble()  # a source or the database failing its last try
        self._busy = threading.Lock()  # a batch and a retry never interleave
        # Per source, events passed over and not yet written: (the checkpoint as stored,
        # the position read up to, since when (monotonic)).
        self._passed: dict[str, tuple[int, int, float]] = {}
        # Which sources to read at the next look: those a wake-up named, and every source
        # once a ``poll_interval`` (the running loop's; 0: every look reads every source).
        self.poll_interval = 0.0
        self._due: set[str] = set()
        self._looked_at_all = float("-inf")  # when every source was last read (monotonic)
        self._wake = threading.Event()  # the running loop's, once ``run`` has started

    @property
    def name(self) -> str:
        return self.projection.name

    def create_tables(self) -> None:
        self.db.create(checkpoints.metadata)
        self.db.create(setaside.metadata)
        self.db.create(self.projection.metadata)

    def lag_seconds(self, now: datetime | None = None) -> float:
        """How long the oldest event not yet applied has waited (0: caught up)."""
        now = now or datetime.now(UTC)
        waiting = [w for w in self.waiting_since.values() if w is not None]
        return max((max(0.0, (now - w).total_seconds()) for w in waiting), default=0.0)

    def checkpoint_name(self, source: str) -> str:
        return f"{self.name}:{source}"

    def positions(self) -> dict[str, int]:
        """How far the read model has got in each source."""
        with self.db.read() as conn:
            return {s: checkpoints.read(conn, self.checkpoint_name(s)) for s in self.sources}

    def wake_for(self, source: str, types: frozenset[str] | None = None) -> bool:
        """``source`` has new events (a name not among the sources: any may have), of
        ``types`` if known; whether that made a read due. Events of types the projection
        never applies are read at the next poll, which moves the checkpoint past them."""
        if source not in self.sources:
            self._due.update(self.sources)
            return True
        wanted = self.projection.types.get(source)
        if types is not None and wanted is not None and wanted.isdisjoint(types):
            return False
        self._due.add(source)
        return True

    def project_once(self) -> int:
        """Apply the next batch of every source due (see ``wake_for``); return the number of
        events applied."""
        now = time.monotonic()
        if now - self._looked_at_all >= self.poll_interval:
            self._due.update(self.sources)
            self._looked_at_all = now
        applied = 0
        for source_name, source in self.sources.items():  # in the projection's order
            if source_name not in self._due:
                continue
            self._due.discard(source_name)  # before the read: a wake-up meanwhile stays
            found, more = self._project_batch(source_name, source)
            if more:
                self._due.add(source_name)  # read on at once: the batch was cut short
            applied += found
        self.trouble(None)  # every source answered: under steady appends ``catch_up`` may
        return applied  # not return for long, and the failure is over all the same

    def _project_batch(self, source_name: str, source: EventSource) -> tuple[int, bool]:
        """Apply (or pass over) the next batch of ``source_name``: how many events it held,
        and whether more may follow them. A batch that reached the source's head is not
        followed by a read that finds nothing: a newer event's wake-up (or the poll) comes."""
        if source_name in self._passed:
            after, read_to, held_since = self._passed[source_name]
        else:
            held_since = time.monotonic()
            with self.db.read() as conn:
                after = read_to = checkpoints.read(conn, self.checkpoint_name(source_name))
        try:
            batch = source.read(read_to, self.batch_sizes[source_name])
        except SourceUnavailable:
            if self.waiting_since[source_name] is None:
                self.waiting_since[source_name] = datetime.now(UTC)
            raise
        more = bool(batch) and (not isinstance(batch, EventBatch) or batch.more)
        self.waiting_since[source_name] = batch[0].metadata.occurred_at if more else None
        if not batch:
            if read_to - after >= self.passed_write_events or (
                time.monotonic() - held_since >= self.passed_write_seconds
            ):
                self._write_passed(source_name)
            return 0, False
        if not any(self._applies(source_name, event) for event in batch):
            self._passed[source_name] = (after, batch[-1].position, held_since)
            return len(batch), more
        self._passed.pop(source_name, None)  # written with this batch, or set aside in it
        try:
            with self._busy:
                self._apply(source_name, after, batch)
        except Exception as exc:
            if setaside.is_transient(exc):
                raise
            log.warning(
                "batch failed; applying its events one by one",
                projection=self.name,
                source=source_name,
                count=len(batch),
                error=setaside.describe(exc),
            )
            self._one_by_one(source_name, after, batch)
        if self.after_batch:
            self.after_batch()
        log.debug("events projected", projection=self.name, source=source_name, count=len(batch))
        return len(batch), more

    def _apply(self, source_name: str, after: int, events: Sequence[RecordedEvent]) -> None:
        """Apply ``events`` and move the checkpoint from ``after`` past them, in one commit."""
        with self.db.write() as conn:
            self._exclude_resets(conn)
            self.projection.begin_batch(conn, source_name, after)
            for event in events:
                if not self._applies(source_name, event):
                    continue
                with correlation(event.metadata.correlation_id):
                    self.projection.apply(conn, source_name, event)
                let_others_run()  # a ping answers while a large batch is applied
            self.projection.end_batch(conn, source_name, events[-1].position)
            # Raises CheckpointMoved (rolling all of it back) if another replica or a reset
            # moved the checkpoint while this batch was being read.
            checkpoints.advance(conn, self.checkpoint_name(source_name), after, events[-1].position)

    def _applies(self, source_name: str, event: RecordedEvent) -> bool:
        types = self.projection.types.get(source_name)
        return types is None or event.type in types

    def _write_passed(self, source_name: str) -> None:
        """Move the checkpoint past the events passed over since the last write."""
        passed = self._passed.pop(source_name, None)
        if passed is None:
            return
        after, read_to, _ = passed
        with self._busy, self.db.write() as conn:
            self._exclude_resets(conn)
            checkpoints.advance(conn, self.checkpoint_name(source_name), after, read_to)

    def _one_by_one(self, source_name: str, after: int, batch: Sequence[RecordedEvent]) -> None:
        """Apply each event of a failed batch alone; set aside one that fails twice alone."""
        for event in batch:
            self.waiting_since[source_name] = event.metadata.occurred_at
            error = ""
            for _ in range(2):
                try:
                    with self._busy:
                        self._apply(source_name, after, [event])
                    break
                except Exception as exc:
                    if setaside.is_transient(exc):
                        raise
                    error = setaside.describe(exc)
            else:
                with self._busy:
                    self._set_aside(source_name, after, event, error)
            after = event.position  # type: ignore[assignment]

    def _set_aside(self, source_name: str, after: int, event: RecordedEvent, error: str) -> None:
        with self.db.write() as conn:
            self._exclude_resets(conn)
            self.projection.set_aside(conn, source_name, event)
            setaside.record(conn, self.name, source_name, event, error, tries=3)
            checkpoints.advance(conn, self.checkpoint_name(source_name), after, event.position)
        log.error(
            "event set aside",
            projection=self.name,
            source=source_name,
            event_id=str(event.event_id),
            position=event.position,
            event_type=event.type,
            error=error,
        )

    def retry_requested(self) -> int:
        """Apply again the set-aside events an operator asked to retry, each at the
        checkpoint of its source; on success it is no longer set aside, on failure it stays
        with the new error. Returns how many were tried."""
        with self.db.read() as conn:
            entries = setaside.listed(conn, self.name, requested=True)
        for entry in entries:
            self._retry(entry)
        return len(entries)

    def _retry(self, entry: setaside.SetAside) -> None:
        try:
            if not self.projection.retryable:
                raise RuntimeError(f"{self.name} cannot apply an event again once past it")
            found = self.sources[entry.source].read(entry.position - 1, 1)
            event = next((e for e in found if e.event_id == entry.event_id), None)
            if event is None:
                raise LookupError(f"no such event at position {entry.position} of its source")
            with self._busy, self.db.write() as conn:
                self._exclude_resets(conn)
                at = checkpoints.read(conn, self.checkpoint_name(entry.source))
                self.projection.begin_batch(conn, entry.source, at)
                with correlation(event.metadata.correlation_id):
                    self.projection.apply(conn, entry.source, event)
                self.projection.end_batch(conn, entry.source, at)
                setaside.cleared(conn, self.name, entry.event_id)
        except Exception as exc:
            if setaside.is_transient(exc):
                raise
            error = setaside.describe(exc)
            with self.db.write() as conn:
                setaside.failed_again(conn, self.name, entry.event_id, error)
            log.warning(
                "set-aside event failed again",
                projection=self.name,
                event_id=str(entry.event_id),
                error=error,
            )
            return
        log.info("set-aside event applied", projection=self.name, event_id=str(entry.event_id))
        if self.after_batch:
            self.after_batch()

    def _exclude_resets(self, conn: Connection) -> None:
        """Serialise batches and resets of this projection (SQLite serialises all writes)."""
        if self.db.is_postgresql:
            key = advisory_key(f"{self.db.schema}:projection:{self.name}")
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))

    def catch_up(
        self,
        progress: Callable[[int], None] | None = None,
        seconds: float | None = None,
        settle: bool = True,
    ) -> int:
        """Project until every source has nothing newer, or for ``seconds`` at most; return
        the number of events. ``settle``: end with every checkpoint written (the running
        loop leaves passed-over events held, see ``passed_write_events``)."""
        total = 0
        ends = None if seconds is None else time.monotonic() + seconds
        while applied := self.project_once():
            total += applied
            if progress:
                progress(total)
            if ends is not None and time.monotonic() >= ends:
                break
        for source_name in list(self._passed) if settle else ():
            self._write_passed(source_name)
        return total

    def reset(self) -> None:
        """Empty the read model and forget its checkpoints, atomically."""
        self._passed.clear()
        with self.db.write() as conn:
            self._exclude_resets(conn)
            self.projection.clear(conn)
            checkpoints.reset(conn, self.name)

    def run(self, stop: threading.Event, wake: threading.Event, poll_interval: float) -> None:
        """While ``stop`` is unset: lead if no other replica does, and keep the model current."""
        name = f"projector:{self.name}"
        self._wake = wake
        self.poll_interval = poll_interval
        repeat_while_leading(
            self.db,
            name,
            self._keep_current,
            stop,
            wake,
            poll_interval,
            on_lead=self._leading,
            on_outcome=self.trouble,
        )

    def _turn_over(self) -> bool:
        """Whether the last catch-up stopped at its time rather than at the sources' heads."""
        return any(w is not None for w in self.waiting_since.values())

    def _leading(self, leads: bool) -> None:
        if leads and not self.leads:  # operators (and the fault suite) see who took over
            log.info("leading the projection", projection=self.name)
        self.leads = leads
        if not leads:
            self.waiting_since = dict.fromkeys(self.sources)  # the leader's to tell
            self._passed.clear()

    def _keep_current(self) -> None:
        while True:
            try:
                if time.monotonic() - self._looked_at_all >= self.poll_interval:
                    self.retry_requested()  # with each poll, not each wake-up (each lookup's)
                if self.catch_up(seconds=self.turn_seconds, settle=False) and self._turn_over():
                    self._wake.set()  # more to do: the next turn starts without a pause
                return
            except checkpoints.CheckpointMoved:  # passed-over events were dropped with the write
                log.info("checkpoint moved under the projector; re-reading", name=self.name)
