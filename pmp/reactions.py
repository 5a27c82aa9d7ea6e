"""Reactions: effects outside the service's database (an email, a call to another service)
driven by the service's own events, at least once, in order, and once per event id.

A reaction reads its service's store from its checkpoint like a projector, but its effect
cannot share a transaction with the checkpoint. So each event is handled in three steps:
skip it if its id is already recorded as handled; perform the effect outside any transaction
(a slow SMTP server must not hold the database's write lock); then record the id and advance
the checkpoint in one transaction. An event that needed no effect (not of the reaction's
types, or the reaction did nothing) is recorded with the next write instead: its repeat is
harmless, and a catch-up over a bulk load's thousands of them then writes once per batch. A
crash between the effect and the record repeats the effect once on restart, which is why
effects must tolerate a repeat (emails carry a Message-ID made from the event id, so a mail
system can drop the twin; RPCs are idempotent). A failing effect is retried with a growing
pause (up to a minute); after ``MAX_ATTEMPTS`` tries it is set aside (``pmp.setaside``:
listed, counted on /healthz, retried by ``pmp projections retry`` after a fix) and the
reaction moves on, so one undeliverable address cannot hold up every later message for ever.
A transient failure (the mail server or the service called unreachable, the database
unavailable) is retried without limit instead: nothing is set aside because a neighbour is
down, and the lag shows. One replica reacts at a time (the projector's leader lock), and a
rebuild never applies to reactions: the handled ids stay.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp import checkpoints, setaside
from pmp.config import Settings
from pmp.db import Database
from pmp.envelope import RecordedEvent
from pmp.eventstore import EventStore
from pmp.inbox import processed_events
from pmp.leader import Trouble, repeat_while_leading
from pmp.logs import correlation, get_logger

log = get_logger(__name__)

MAX_ATTEMPTS = 10  # about five minutes of retrying with the growing pause


class Reaction:
    """What to do about some of the service's events. ``react`` may run twice for one event."""

    name: ClassVar[str]  # "<service>.<reaction>", unique across the system
    types: ClassVar[frozenset[str]]  # the event types it reacts to

    def __init__(self, settings: Settings, store: EventStore):
        self.settings = settings
        self.store = store

    def react(self, event: RecordedEvent) -> bool:
        """Do what ``event`` calls for; True if it acted outside the database (sent an email,
        called a service), False if the event needed nothing."""
        raise NotImplementedError


class Reactor:
    """Runs one reaction over the service's store."""

    def __init__(self, db: Database, store: EventStore, reaction: Reaction, batch_size: int = 100):
        self.db = db
        self.store = store
        self.reaction = reaction
        self.batch_size = batch_size
        self._failures: dict[str, int] = {}
        self.waiting_since: datetime | None = None  # the oldest event not yet passed
        self.leads = False
        self.trouble = Trouble()  # its effect or the database failing its last try

    @property
    def source(self) -> str:
        """The service whose store it reads: its own (``<service>.<reaction>``)."""
        return self.reaction.name.split(".", 1)[0]

    def lag_seconds(self, now: datetime | None = None) -> float:
        if self.waiting_since is None:
            return 0.0
        return max(0.0, ((now or datetime.now(UTC)) - self.waiting_since).total_seconds())

    @property
    def name(self) -> str:
        return self.reaction.name

    def create_tables(self) -> None:
        self.db.create(checkpoints.metadata)
        self.db.create(processed_events.metadata)
        self.db.create(setaside.metadata)

    def position(self) -> int:
        with self.db.read() as conn:
            return checkpoints.read(conn, self.name)

    def react_once(self) -> int:
        """Handle the next batch; return how many events were passed (handled or not ours).

        An effect is recorded at once (its repeat after a crash would be seen); events that
        needed none (not ours, or the reaction did nothing) are recorded with the next
        write, so a catch-up over thousands of them writes once per batch, not per event."""
        after = self.position()
        batch = self.store.read_all(after, self.batch_size)
        handled = self._handled(batch)
        unrecorded: list[RecordedEvent] = []  # passed since the last write
        try:
            for event in batch:
                self.waiting_since = event.metadata.occurred_at
                acted, given_up = False, None
                if event.type in self.reaction.types and event.event_id not in handled:
                    acted, given_up = self._attempt(event)  # raises to retry; later ones wait
                unrecorded.append(event)
                if acted or given_up is not None:
                    self._advance(after, unrecorded, given_up)
                    after, unrecorded = event.position, []
        finally:
            if unrecorded:  # also before a failing event: those before it are passed
                self._advance(after, unrecorded)
        self.waiting_since = None  # all passed; the next read says whether more wait
        self.trouble(None)  # under steady appends ``catch_up`` may not return for long
        return len(batch)

    def _handled(self, batch: list[RecordedEvent]) -> set:
        """The ids in ``batch`` already reacted to (before a restart, or by another replica)."""
        ours = {e.event_id for e in batch if e.type in self.reaction.types}
        if not ours:
            return set()
        with self.db.read() as conn:
            return self._recorded(conn, ours)

    def _recorded(self, conn: Connection, ids: set) -> set:
        """Those of ``ids`` recorded as handled by this reaction."""
        if not ids:
            return set()
        recorded = sa.select(processed_events.c.event_id).where(
            processed_events.c.consumer == self.name, processed_events.c.event_id.in_(list(ids))
        )
        return set(conn.scalars(recorded))

    def _attempt(self, event: RecordedEvent) -> tuple[bool, str | None]:
        """React to ``event``: (whether it acted, None) once done, (False, the error) once
        given up; else raise to try again later."""
        key = str(event.event_id)
        try:
            with correlation(event.metadata.correlation_id):
                acted = self.reaction.react(event)
        except Exception as exc:
            if setaside.is_transient(exc):
                raise  # a neighbour is down: wait for it, however long
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            if failures < MAX_ATTEMPTS:
                raise
            self._failures.pop(key, None)
            error = setaside.describe(exc)
            log.error(
                "event set aside",
                reaction=self.name,
                event_id=key,
                event_type=event.type,
                error=error,
            )
            return False, error
        self._failures.pop(key, None)
        return bool(acted), None

    def _advance(
        self, after: int, events: list[RecordedEvent], given_up: str | None = None
    ) -> None:
        """Record ``events`` (the last one set aside if ``given_up``) as passed, in one
        transaction with the checkpoint's move from ``after`` to the last of them."""
        ours = {e.event_id for e in events if e.type in self.reaction.types}
        with self.db.write() as conn:
            if given_up is not None:
                setaside.record(conn, self.name, self.source, events[-1], given_up, MAX_ATTEMPTS)
            ours -= self._recorded(conn, ours)
            if ours:
                now = datetime.now(UTC)
                conn.execute(
                    processed_events.insert(),
                    [{"consumer": self.name, "event_id": i, "processed_at": now} for i in ours],
                )
            checkpoints.advance(conn, self.name, after, events[-1].position)

    def catch_up(self) -> int:
        total = 0
        while passed := self.react_once():
            total += passed
        return total

    def retry_requested(self) -> int:
        """React again to the set-aside events an operator asked to retry: on success the
        event is no longer set aside, on failure it stays with the new error."""
        with self.db.read() as conn:
            entries = setaside.listed(conn, self.name, requested=True)
        for entry in entries:
            found = self.store.read_all(entry.position - 1, 1)
            event = next((e for e in found if e.event_id == entry.event_id), None)
            try:
                if event is None:
                    raise LookupError(f"no such event at position {entry.position}")
                with correlation(event.metadata.correlation_id):
                    self.reaction.react(event)
            except Exception as exc:
                if setaside.is_transient(exc):
                    raise
                with self.db.write() as conn:
                    setaside.failed_again(conn, self.name, entry.event_id, setaside.describe(exc))
                continue
            with self.db.write() as conn:
                setaside.cleared(conn, self.name, entry.event_id)
            log.info("set-aside event reacted to", reaction=self.name, event_id=str(entry.event_id))
        return len(entries)

    def run(self, stop: threading.Event, wake: threading.Event, poll_interval: float) -> None:
        repeat_while_leading(
            self.db,
            f"reaction:{self.name}",
            self._keep_current,
            stop,
            wake,
            poll_interval,
            on_lead=self._leading,
            on_outcome=self.trouble,
        )

    def _leading(self, leads: bool) -> None:
        self.leads = leads
        if not leads:
            self.waiting_since = None  # the leader's to tell

    def _keep_current(self) -> None:
        try:
            self.retry_requested()
            self.catch_up()
        except checkpoints.CheckpointMoved:
            log.info("checkpoint moved under the reaction; re-reading", name=self.name)
