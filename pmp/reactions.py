"""Reactions: effects outside the service's database (an email, a call to another service)
driven by the service's own events, at least once, in order, and once per event id.

A reaction reads its service's store from its checkpoint like a projector, but its effect
cannot share a transaction with the checkpoint. So each event is handled in three steps:
skip it if its id is already recorded as handled; perform the effect outside any
transaction (a slow SMTP server must not hold the database's write lock); then record the id
and advance the checkpoint in one transaction. A crash between the effect and the record
repeats the effect once on restart, which is why effects must tolerate a repeat (emails
carry a Message-ID made from the event id, so a mail system can drop the twin; RPCs are
idempotent). A failing effect is retried with a growing pause (up to a minute); after
``MAX_ATTEMPTS`` tries it is set aside (``pmp.setaside``: listed, counted on /healthz,
retried by ``pmp projections retry`` after a fix) and the reaction moves on, so one
undeliverable address cannot hold up every later message for ever. A transient failure
(the mail server or the service called unreachable, the database unavailable) is retried
without limit instead: nothing is set aside because a neighbour is down, and the lag shows.
One replica reacts at a time (the projector's leader lock), and a rebuild never applies to
reactions: the handled ids stay.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import ClassVar

import sqlalchemy as sa

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

    def react(self, event: RecordedEvent) -> None:
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
        """Handle the next batch; return how many events were passed (handled or not ours)."""
        after = self.position()
        batch = self.store.read_all(after, self.batch_size)
        passed = 0
        for event in batch:
            self.waiting_since = event.metadata.occurred_at
            given_up = None
            if event.type in self.reaction.types and not self._handled(event):
                given_up = self._attempt(event)  # raises to retry later; later events wait
            self._advance(after, event, given_up)
            after = event.position
            passed += 1
        self.waiting_since = None  # all passed; the next read says whether more wait
        self.trouble(None)  # under steady appends ``catch_up`` may not return for long
        return passed

    def _handled(self, event: RecordedEvent) -> bool:
        with self.db.read() as conn:
            return bool(
                conn.scalar(
                    sa.select(sa.func.count()).where(
                        processed_events.c.consumer == self.name,
                        processed_events.c.event_id == event.event_id,
                    )
                )
            )

    def _attempt(self, event: RecordedEvent) -> str | None:
        """React to ``event``; None once done, the error once given up, else raise."""
        key = str(event.event_id)
        try:
            with correlation(event.metadata.correlation_id):
                self.reaction.react(event)
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
            return error
        self._failures.pop(key, None)
        return None

    def _advance(self, after: int, event: RecordedEvent, given_up: str | None = None) -> None:
        with self.db.write() as conn:
            if given_up is not None:
                setaside.record(conn, self.name, self.source, event, given_up, MAX_ATTEMPTS)
            if event.type in self.reaction.types:
                exists = conn.scalar(
                    sa.select(sa.func.count()).where(
                        processed_events.c.consumer == self.name,
                        processed_events.c.event_id == event.event_id,
                    )
                )
                if not exists:
                    conn.execute(
                        processed_events.insert().values(
                            consumer=self.name,
                            event_id=event.event_id,
                            processed_at=datetime.now(UTC),
                        )
                    )
            checkpoints.advance(conn, self.name, after, event.position)

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
