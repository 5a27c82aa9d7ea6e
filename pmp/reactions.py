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
``MAX_ATTEMPTS`` it is recorded as given up, logged, and the reaction moves on, so one
undeliverable address cannot hold up every later message for ever. One replica reacts at
a time (the projector's leader lock), and a rebuild never applies to reactions: the handled
ids stay.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import ClassVar

import sqlalchemy as sa

from pmp import checkpoints
from pmp.config import Settings
from pmp.db import Database
from pmp.envelope import RecordedEvent
from pmp.eventstore import EventStore
from pmp.inbox import processed_events
from pmp.leader import repeat_while_leading
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

    @property
    def name(self) -> str:
        return self.reaction.name

    def create_tables(self) -> None:
        self.db.create(checkpoints.metadata)
        self.db.create(processed_events.metadata)

    def position(self) -> int:
        with self.db.read() as conn:
            return checkpoints.read(conn, self.name)

    def react_once(self) -> int:
        """Handle the next batch; return how many events were passed (handled or not ours)."""
        after = self.position()
        batch = self.store.read_all(after, self.batch_size)
        passed = 0
        for event in batch:
            if event.type in self.reaction.types and not self._handled(event):
                self._attempt(event)  # raises to retry later; later events wait, in order
            self._advance(after, event)
            after = event.position
            passed += 1
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

    def _attempt(self, event: RecordedEvent) -> None:
        key = str(event.event_id)
        try:
            with correlation(event.metadata.correlation_id):
                self.reaction.react(event)
        except Exception as exc:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            if failures < MAX_ATTEMPTS:
                raise
            log.error("reaction gave up", reaction=self.name, event_type=event.type, error=str(exc))
        self._failures.pop(key, None)

    def _advance(self, after: int, event: RecordedEvent) -> None:
        with self.db.write() as conn:
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

    def run(self, stop: threading.Event, wake: threading.Event, poll_interval: float) -> None:
        repeat_while_leading(
            self.db, f"reaction:{self.name}", self._keep_current, stop, wake, poll_interval
        )

    def _keep_current(self) -> None:
        try:
            self.catch_up()
        except checkpoints.CheckpointMoved:
            log.info("checkpoint moved under the reaction; re-reading", name=self.name)
