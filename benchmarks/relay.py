"""(c) relay throughput, store to consumer, against raw kombu publishing with confirms.

Ours: ``pmp.relay.Relay`` reads committed events from a PostgreSQL store, publishes them in
batches with one publisher confirm per batch, and checkpoints. Peer: kombu publishing the
same message bodies to the same kind of exchange with ``confirm_publish`` (kombu's way to
get confirms: one per message). Both are timed from the first publish until a consumer has
received every message.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

import kombu

from benchmarks.common import AMQP_URI, Result, drop_schema, scratch_store
from pmp.broker import EventPublisher, event_exchange
from pmp.envelope import Metadata, NewEvent
from pmp.relay import Relay

EVENTS = 20_000


class Counter(threading.Thread):
    """A consumer that counts messages on a queue bound to ``service``'s exchange."""

    def __init__(self, service: str, expected: int):
        super().__init__(daemon=True)
        self.expected = expected
        self.received = 0
        self.finished_at = 0.0
        self.ready = threading.Event()
        self.queue = kombu.Queue(
            f"bench-{service}", event_exchange(service), routing_key="#", auto_delete=True
        )

    def run(self) -> None:
        def count(_message) -> None:  # raw amqp messages: nothing decoded, only counted
            self.received += 1

        with kombu.Connection(AMQP_URI) as conn:
            channel = conn.default_channel
            self.queue(channel).declare()
            channel.basic_consume(self.queue.name, no_ack=True, callback=count)
            self.ready.set()
            deadline = time.monotonic() + 300
            while self.received < self.expected and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=1)
                except TimeoutError:
                    continue
            self.finished_at = time.perf_counter()


def timed(service: str, publish_all) -> float:
    counter = Counter(service, EVENTS)
    counter.start()
    counter.ready.wait(30)
    started = time.perf_counter()
    publish_all()
    counter.join()
    if counter.received != EVENTS:
        raise AssertionError(f"the consumer received {counter.received} of {EVENTS} messages")
    with kombu.Connection(AMQP_URI) as conn:
        event_exchange(service)(conn.default_channel).delete()
    return EVENTS / (counter.finished_at - started)


def run() -> list[Result]:
    store, schema = scratch_store("relay")
    db = store.db
    meta = Metadata(occurred_at=datetime.now(UTC))
    for start in range(0, EVENTS, 500):
        store.append(
            "notes", start, [NewEvent("NoteWritten", {"text": "x" * 120}, meta) for _ in range(500)]
        )
    bodies = [e.to_json() for e in store.read_all(0, EVENTS)]
    try:
        ours_service = f"bench{uuid.uuid4().hex[:8]}"
        relay = Relay(store, EventPublisher(AMQP_URI, ours_service), batch_size=500)
        relay.create_tables()
        ours = timed(ours_service, relay.relay_all)
        relay.publisher.close()

        peer_service = f"bench{uuid.uuid4().hex[:8]}"

        def publish_with_kombu() -> None:
            with kombu.Connection(AMQP_URI, transport_options={"confirm_publish": True}) as conn:
                producer = conn.Producer(exchange=event_exchange(peer_service))
                for body in bodies:
                    producer.publish(
                        body,
                        routing_key=body["type"],
                        serializer="json",
                        delivery_mode=2,
                        declare=[producer.exchange],
                    )

        peer = timed(peer_service, publish_with_kombu)
    finally:
        db.dispose()
        drop_schema(schema)
    return [
        Result(
            "c",
            f"relay {EVENTS:,} events, store to consumer",
            "events/s",
            ours,
            peer,
            "kombu 5.7 publishing with confirm_publish (a confirm per message)",
            goal_ratio=0.7,
            note="ours reads the store, publishes in batches of 500 under one confirm, "
            "and checkpoints each batch",
        )
    ]
