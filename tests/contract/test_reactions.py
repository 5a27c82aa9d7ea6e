"""Reactions: a service's effects outside its database (emails, calls to other services)
happen once per event id, in store order, survive restarts and a second replica, are retried
while they fail, and are set aside after ``MAX_ATTEMPTS`` so later events are not held for
ever (an unreachable neighbour is waited for instead). Each test runs on SQLite and on
PostgreSQL through the ``database`` fixture.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from marshmallow import Schema, fields

from pmp import checkpoints, setaside
from pmp.envelope import Metadata, NewEvent, RecordedEvent
from pmp.eventstore import EventStore
from pmp.inbox import processed_events
from pmp.reactions import MAX_ATTEMPTS, Reaction, Reactor
from pmp.registry import EventRegistry

T0 = datetime(2026, 11, 1, 14, 30, tzinfo=UTC)


class Text(Schema):
    text = fields.String(required=True)


def registry() -> EventRegistry:
    reg = EventRegistry()
    reg.register("NoteWritten", Text)
    reg.register("NoteErased", Text)
    return reg


class Outbox(Reaction):
    """A fake mailer: sends a message for each written note, and keeps what it sent.

    ``failing[text]`` is how many more times sending that note fails (-1: always)."""

    name = "notes.outbox"
    types = frozenset({"NoteWritten"})

    def __init__(self, store: EventStore, failing: dict[str, int] | None = None):
        super().__init__(None, store)  # type: ignore[arg-type]  # the fake needs no settings
        self.failing = dict(failing or {})
        self.sent: list[str] = []
        self.attempts: list[str] = []
        self.seen_types: set[str] = set()

    def react(self, event: RecordedEvent) -> bool:
        text = event.data["text"]
        self.attempts.append(text)
        self.seen_types.add(event.type)
        left = self.failing.get(text, 0)
        if left:
            self.failing[text] = left - 1
            raise RuntimeError(f"the mail server refused {text!r}")
        self.sent.append(text)
        return True


@pytest.fixture
def store(database) -> EventStore:
    store = EventStore(database, registry())
    store.create_tables()
    return store


def reactor_for(store: EventStore, reaction: Reaction, batch_size: int = 100) -> Reactor:
    reactor = Reactor(store.db, store, reaction, batch_size)
    reactor.create_tables()
    return reactor


def write(store: EventStore, *texts: str, kind: str = "NoteWritten", stream: str = "notebook"):
    for text in texts:
        event = NewEvent(kind, {"text": text}, Metadata(occurred_at=T0))
        store.append(stream, EventStore.ANY, [event])


def notes(*numbers: int) -> list[str]:
    return [f"note {n}" for n in numbers]


def handled_ids(store: EventStore, consumer: str) -> set:
    with store.db.read() as conn:
        return set(
            conn.scalars(
                sa.select(processed_events.c.event_id).where(
                    processed_events.c.consumer == consumer
                )
            )
        )


def test_each_event_of_its_types_is_reacted_to_once_in_order_and_no_other(store):
    write(store, "note 0", "note 1", stream="a")
    write(store, "erased 0", kind="NoteErased", stream="a")
    write(store, "note 2", stream="b")
    write(store, "erased 1", "erased 2", kind="NoteErased", stream="b")
    write(store, "note 3", "note 4", "note 5", stream="a")
    outbox = Outbox(store)
    reactor = reactor_for(store, outbox, batch_size=3)  # across several batches

    assert reactor.catch_up() == 9  # every event is passed, ours or not
    assert outbox.sent == notes(0, 1, 2, 3, 4, 5)
    assert outbox.seen_types == {"NoteWritten"}
    assert reactor.position() == store.head_position()
    assert reactor.catch_up() == 0
    assert outbox.sent == notes(0, 1, 2, 3, 4, 5), "a second catch-up reacted again"

    written = [e.event_id for e in store.read_all(0, 100) if e.type == "NoteWritten"]
    assert handled_ids(store, Outbox.name) == set(written)

    write(store, "note 6")
    write(store, "erased 3", kind="NoteErased")
    write(store, "note 7")
    assert reactor.catch_up() == 3
    assert outbox.sent == notes(0, 1, 2, 3, 4, 5, 6, 7)


def test_a_second_replica_or_a_restart_repeats_nothing(store):
    write(store, *notes(0, 1, 2, 3))
    first = Outbox(store)
    reactor_for(store, first, batch_size=2).catch_up()
    assert first.sent == notes(0, 1, 2, 3)

    second = Outbox(store)  # another replica, or the same service after a restart
    replica = reactor_for(store, second)
    assert replica.position() == store.head_position()
    assert replica.catch_up() == 0
    assert second.attempts == []

    write(store, *notes(4, 5))
    assert replica.catch_up() == 2
    assert second.sent == notes(4, 5)
    assert reactor_for(store, first).catch_up() == 0
    assert first.sent == notes(0, 1, 2, 3)


def test_a_failing_effect_is_retried_on_the_next_run_and_later_events_wait(store):
    write(store, *notes(0, 1, 2, 3, 4))
    outbox = Outbox(store, failing={"note 2": 2})
    reactor = reactor_for(store, outbox)

    with pytest.raises(RuntimeError, match="note 2"):
        reactor.catch_up()
    assert outbox.sent == notes(0, 1)
    position_after_note_1 = store.read_all(0, 100)[1].position
    assert reactor.position() == position_after_note_1

    with pytest.raises(RuntimeError, match="note 2"):
        reactor.catch_up()  # the next run tries note 2 again, and only note 2
    assert outbox.attempts == notes(0, 1, 2, 2)
    assert reactor.position() == position_after_note_1

    assert reactor.catch_up() == 3
    assert outbox.sent == notes(0, 1, 2, 3, 4), "the order changed or an effect repeated"
    assert outbox.attempts == notes(0, 1, 2, 2, 2, 3, 4)


def test_an_effect_that_failed_before_a_restart_is_tried_again_after_it(store):
    write(store, *notes(0, 1, 2))
    before = Outbox(store, failing={"note 1": -1})
    with pytest.raises(RuntimeError):
        reactor_for(store, before).catch_up()
    assert before.sent == notes(0)

    after = Outbox(store)  # the restarted service: the mail server is back
    assert reactor_for(store, after).catch_up() == 2
    assert after.sent == notes(1, 2)


def test_after_max_attempts_the_event_is_given_up_and_later_events_proceed(store):
    write(store, *notes(0, 1, 2, 3))
    outbox = Outbox(store, failing={"note 1": -1})  # an address that never takes mail
    reactor = reactor_for(store, outbox)

    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(RuntimeError, match="note 1"):
            reactor.catch_up()
        assert outbox.sent == notes(0)
    assert reactor.catch_up() == 3  # the last attempt fails too: given up, moving on
    assert outbox.sent == notes(0, 2, 3)
    assert outbox.attempts.count("note 1") == MAX_ATTEMPTS

    # Given up is final: neither this reactor nor a restarted one tries it again.
    assert reactor.catch_up() == 0
    restarted = Outbox(store, failing={"note 1": -1})
    assert reactor_for(store, restarted).catch_up() == 0
    assert restarted.attempts == []
    written = [e.event_id for e in store.read_all(0, 100)]
    assert handled_ids(store, Outbox.name) == set(written)
    with store.db.read() as conn:
        [aside] = setaside.listed(conn, Outbox.name)
    assert (aside.event_id, aside.tries, aside.source) == (written[1], MAX_ATTEMPTS, "notes")
    assert aside.error.startswith("RuntimeError: the mail server refused '…'")

    # After a fix (the address takes mail now) an operator asks for a retry.
    with store.db.write() as conn:
        setaside.request_retry(conn, Outbox.name)
    fixed = Outbox(store)
    assert reactor_for(store, fixed).retry_requested() == 1
    assert fixed.sent == notes(1)
    with store.db.read() as conn:
        assert setaside.listed(conn) == []


class Unreachable(Outbox):
    """The mail server does not answer at all: not the event's fault."""

    def react(self, event: RecordedEvent) -> None:
        self.attempts.append(event.data["text"])
        raise ConnectionRefusedError(111, "Connection refused")


def test_an_unreachable_mail_server_is_waited_for_however_long_and_sets_nothing_aside(store):
    write(store, *notes(0, 1))
    down = Unreachable(store)
    reactor = reactor_for(store, down)
    for _ in range(MAX_ATTEMPTS + 2):
        with pytest.raises(ConnectionRefusedError):
            reactor.catch_up()
    assert reactor.position() == 0 and reactor.lag_seconds() > 0
    with store.db.read() as conn:
        assert setaside.listed(conn) == []
    back = Outbox(store)
    assert reactor_for(store, back).catch_up() == 2
    assert back.sent == notes(0, 1)


def test_the_handled_ids_survive_a_reset_of_the_checkpoint(store):
    write(store, *notes(0, 1, 2))
    write(store, "erased 0", kind="NoteErased")
    outbox = Outbox(store)
    reactor = reactor_for(store, outbox)
    reactor.catch_up()
    assert outbox.sent == notes(0, 1, 2)

    # A reset of projections forgets checkpoints by name; the reactor's is the reaction's.
    with store.db.write() as conn:
        checkpoints.reset(conn, Outbox.name)
    assert reactor.position() == 0

    again = Outbox(store)
    replay = reactor_for(store, again)
    assert replay.catch_up() == 4  # read from the start again...
    assert again.attempts == []  # ...but nothing is sent twice
    assert replay.position() == store.head_position()

    write(store, "note 3")
    assert replay.catch_up() == 1
    assert again.sent == notes(3)


class Selective(Outbox):
    """Sends only notes whose text says "urgent"; the rest need nothing (as a notice does
    while the program has notices turned off)."""

    def react(self, event: RecordedEvent) -> bool:
        if "urgent" not in event.data["text"]:
            self.attempts.append(event.data["text"])
            return False
        return super().react(event)


def transactions_during(store: EventStore, work) -> int:
    """How many transactions ``work`` committed to the store's database, reads included."""
    commits = []
    listener = lambda conn: commits.append(1)  # noqa: E731
    sa.event.listen(store.db.engine, "commit", listener)
    try:
        work()
    finally:
        sa.event.remove(store.db.engine, "commit", listener)
    return len(commits)


def test_a_catch_up_over_events_that_need_nothing_writes_once_per_batch_not_per_event(store):
    """A catch-up over a bulk load's alerts (tens of thousands, notices off) took one write
    per event; an event that needed no effect costs nothing to repeat after a crash, so it
    is recorded with the next write. An effect is still recorded at once."""
    write(store, *notes(*range(120)))
    write(store, "erased", kind="NoteErased")
    write(store, "urgent 1", "note 200", "urgent 2")
    outbox = Selective(store)
    reactor = reactor_for(store, outbox, batch_size=50)

    transactions = transactions_during(store, reactor.catch_up)

    assert outbox.sent == ["urgent 1", "urgent 2"]
    assert reactor.position() == store.head_position()
    # per batch: the checkpoint, the events, the handled ids, one write; and a write per effect
    assert transactions <= 3 * 4 + 2 + 2, f"{transactions} transactions for 124 events"
    written = [e.event_id for e in store.read_all(0, 200) if e.type == "NoteWritten"]
    assert handled_ids(store, Outbox.name) == set(written)
    assert reactor.catch_up() == 0
    assert outbox.sent == ["urgent 1", "urgent 2"]


def test_events_that_needed_nothing_before_a_failing_one_are_not_read_again(store):
    write(store, "note 1", "note 2", "urgent 3", "note 4")
    outbox = Selective(store, failing={"urgent 3": 1})
    reactor = reactor_for(store, outbox)

    with pytest.raises(RuntimeError):
        reactor.catch_up()
    assert reactor.position() == 2  # the two quiet notes are passed; the failing one waits
    assert reactor.catch_up() == 2
    assert outbox.sent == ["urgent 3"]
    assert outbox.attempts == ["note 1", "note 2", "urgent 3", "urgent 3", "note 4"]
