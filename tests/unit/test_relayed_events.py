"""The hand-over of relayed events to the projectors of one process (``pmp.relayed``): a
reader gets the events after its checkpoint only if none is missing, and nothing is kept
longer than a few seconds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson

from pmp.envelope import Metadata, RecordedEvent
from pmp.relayed import KEEP_SECONDS, LARGEST_KEPT, RelayedEvents


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def message(position: int, text: str = "a note") -> bytes:
    """The body the relay publishes for the event at ``position``."""
    event = RecordedEvent(
        uuid.uuid4(), "notebook", position, position, "NoteWritten", {"text": text}, 1,
        Metadata(datetime(2026, 12, 8, tzinfo=UTC), actor_id="u1"),
    )  # fmt: skip
    return orjson.dumps(event.to_json())


def positions(batch) -> list[int]:
    return [event.position for event in batch]


def test_a_reader_takes_the_events_after_its_checkpoint_up_to_the_first_gap():
    relayed = RelayedEvents(Clock())
    for position in (3, 1, 2, 5):  # 4 never came: the broker dropped its wake-up
        relayed.offer(message(position))

    first = relayed.take(0, 100)
    assert positions(first) == [1, 2, 3]
    assert first.more  # 5 was announced: read on, and the source fills the gap
    assert relayed.take(3, 100) is None  # 4 is not here: read from the source
    last = relayed.take(4, 100)
    assert positions(last) == [5] and not last.more


def test_a_take_is_cut_at_its_limit_and_says_more_follow():
    relayed = RelayedEvents(Clock())
    for position in range(1, 8):
        relayed.offer(message(position))
    batch = relayed.take(2, 3)
    assert positions(batch) == [3, 4, 5] and batch.more


def test_a_take_is_bounded_in_bytes_as_a_read_is_and_holds_one_event_at_least():
    relayed = RelayedEvents(Clock())
    for position in range(1, 5):
        relayed.offer(message(position, "x" * 1000))
    size = len(message(1, "x" * 1000))
    assert positions(relayed.take(0, 100, max_bytes=2 * size)) == [1, 2]
    assert positions(relayed.take(0, 100, max_bytes=10)) == [1]


def test_the_events_come_back_as_the_relay_published_them():
    relayed = RelayedEvents(Clock())
    body = message(1, "Morphine 30 mg")
    relayed.offer(body)
    (event,) = relayed.take(0, 10)
    assert orjson.loads(orjson.dumps(event.to_json())) == orjson.loads(body)


def test_nothing_is_kept_longer_than_a_few_seconds():
    clock = Clock()
    relayed = RelayedEvents(clock)
    relayed.offer(message(1))
    clock.now += KEEP_SECONDS
    relayed.offer(message(2))
    assert relayed.take(0, 10) is None  # 1 is gone: the reader asks the source
    assert positions(relayed.take(1, 10)) == [2]


def test_a_large_or_unreadable_message_is_not_kept():
    relayed = RelayedEvents(Clock())
    relayed.offer(message(1, "x" * LARGEST_KEPT))  # a bulk intake's event: read instead
    relayed.offer(b"not json")
    relayed.offer(b'{"position": 2}')
    assert relayed.take(0, 10) is None and relayed.take(1, 10) is None
    assert relayed.newest == 0
