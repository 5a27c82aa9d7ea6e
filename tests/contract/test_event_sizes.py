"""Event sizes, on SQLite and PostgreSQL: reads bounded in bytes, oversized events refused.

A bulk intake's events are about a megabyte each; a reader asking for 500 events must not get
500 megabytes. Each read bounded by ``max_bytes`` returns whole events, in order, at least
one, and no more than fit; an event too large to travel as one message is refused at append.
"""

from __future__ import annotations

import orjson
import pytest

from pmp.envelope import RecordedEvent
from pmp.eventstore import MAX_EVENT_BYTES, EventStore, EventTooLarge
from pmp.relay import Relay
from tests.contract.test_event_store import note, registry

TEXT = "word " * 20_000  # 100 kB of data per event


@pytest.fixture
def store(database) -> EventStore:
    store = EventStore(database, registry())
    store.create_tables()
    return store


def size(event: RecordedEvent) -> int:
    return len(orjson.dumps(event.data))


def test_a_read_bounded_in_bytes_returns_whole_events_up_to_the_budget(store):
    for n in range(12):
        store.append(f"note-{n % 3}", None, [note(TEXT)])
    budget = 350_000  # three events and a half
    first = store.read_all(0, limit=500, max_bytes=budget)
    assert [e.position for e in first] == [1, 2, 3]
    assert first[0].data == {"text": TEXT, "words": 20_000}
    read, after = [], 0
    while batch := store.read_all(after, limit=500, max_bytes=budget):
        assert sum(size(e) for e in batch) <= budget
        read += batch
        after = batch[-1].position
    assert [e.position for e in read] == list(range(1, 13))
    assert [e.position for e in store.read_all(0, limit=2, max_bytes=budget)] == [1, 2]


def test_an_event_larger_than_the_budget_is_read_alone(store):
    store.append("note-1", 0, [note(TEXT), note("small")])
    assert [e.data["text"] for e in store.read_all(0, max_bytes=1000)] == [TEXT]
    assert [e.data["text"] for e in store.read_all(1, max_bytes=1000)] == ["small"]


def test_a_bounded_read_of_a_few_streams_and_as_stored(store):
    for n in range(6):
        store.append(f"note-{n % 2}", None, [note(TEXT)])
    found = store.read_streams(["note-1"], 0, max_bytes=250_000)
    assert [(e.stream, e.position) for e in found] == [("note-1", 2), ("note-1", 4)]
    kept = store.read_all(0, max_bytes=250_000, as_stored=True)
    assert len(kept) == 2
    assert orjson.loads(orjson.dumps(kept[0].data)) == {"text": TEXT, "words": 20_000}


def test_the_relay_publishes_batches_bounded_in_bytes(store):
    published: list[list[RecordedEvent]] = []

    class Recorder:
        def publish(self, batch: list[RecordedEvent]) -> None:
            published.append(list(batch))

    relay = Relay(store, Recorder(), batch_size=500, max_bytes=250_000)
    relay.create_tables()
    for n in range(10):
        store.append(f"note-{n}", 0, [note(TEXT)])
    assert relay.relay_all() == 10
    assert [len(batch) for batch in published] == [2, 2, 2, 2, 2]


def test_an_event_over_the_limit_is_refused_and_nothing_is_written(store):
    huge = note("x" * (MAX_EVENT_BYTES + 1))
    with pytest.raises(EventTooLarge, match="NoteWritten event of 16,777,2.. bytes is over"):
        store.append("note-1", 0, [note("first"), huge])
    with pytest.raises(EventTooLarge), store.db.write() as conn:
        store.append_in(conn, "note-2", [huge])
    assert store.read_all(0) == []
