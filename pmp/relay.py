"""The relay: the event store doubles as the outbox.

It reads committed events after its checkpoint, publishes them in position order, waits for
the broker to confirm the whole batch, and only then moves its checkpoint. A crash between
publish and checkpoint republishes the batch on restart (at least once); consumers make that
harmless by recording processed event ids (``pmp.inbox``).

The relay sets no event aside: its messages wake consumers, which take the events from them
when none is missing before (``pmp.relayed``) and otherwise read the stores themselves
(``read_batch``), so an event it cannot publish costs a wake-up, not an event;
and a refused or unconfirmed batch says the broker is in trouble, not that one event is
wrong. It is retried, and its lag (reported like a projection's) shows a relay that is stuck.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol

from pmp import checkpoints
from pmp.envelope import RecordedEvent
from pmp.eventstore import EventStore
from pmp.leader import Trouble, repeat_while_leading
from pmp.logs import get_logger

log = get_logger(__name__)


class Publisher(Protocol):
    def publish(self, batch: list[RecordedEvent]) -> None: ...


class Relay:
    """Moves events from one service's store to its exchange."""

    checkpoint = "relay"

    def __init__(
        self,
        store: EventStore,
        publisher: Publisher,
        batch_size: int = 500,
        max_bytes: int | None = None,
    ):
        self.store = store
        self.publisher = publisher
        self.batch_size = batch_size
        self.max_bytes = max_bytes  # of event data per batch: its memory, one confirm's worth
        self.waiting_since: datetime | None = None  # the oldest event not yet published
        self.leads = False
        self.trouble = Trouble()  # the broker or the database failing its last try

    def lag_seconds(self, now: datetime | None = None) -> float:
        if self.waiting_since is None:
            return 0.0
        return max(0.0, ((now or datetime.now(UTC)) - self.waiting_since).total_seconds())

    def create_tables(self) -> None:
        self.store.db.create(checkpoints.metadata)

    def relay_once(self) -> int:
        """Publish the next batch; return how many events it held (0: nothing new)."""
        return self._relay_next()[0]

    def _relay_next(self) -> tuple[int, bool]:
        """Publish the next batch: how many events it held, and whether more may follow."""
        with self.store.db.read() as conn:
            after = checkpoints.read(conn, self.checkpoint)
        batch = self.store.read_all(
            after, limit=self.batch_size, as_stored=True, max_bytes=self.max_bytes
        )
        self.waiting_since = batch[0].metadata.occurred_at if batch.more else None
        if not batch:
            return 0, False
        self.publisher.publish(batch)
        self._checkpoint(after, batch[-1].position)
        self.trouble(None)  # under steady appends ``relay_all`` may not return for long
        log.debug("events relayed", count=len(batch), through_position=batch[-1].position)
        return len(batch), batch.more

    def _checkpoint(self, after: int, through: int) -> None:
        with self.store.db.write() as conn:
            checkpoints.advance(conn, self.checkpoint, after, through)

    def relay_all(self) -> int:
        """Publish until the store has nothing newer; return the number of events sent. A
        batch that reached the head ends it: an append meanwhile wakes the relay again."""
        total, more = 0, True
        while more:
            sent, more = self._relay_next()
            total += sent
        return total

    def run(self, stop: threading.Event, wake: threading.Event, poll_interval: float) -> None:
        """Relay until ``stop`` is set, if no other replica of the service relays already.

        ``wake`` cuts the wait short after an append in this process.
        """
        repeat_while_leading(
            self.store.db,
            "relay",
            self.relay_all,
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
