"""Wake-ups cost a projector little however many events arrive (issue 23, item 8).

A projector's wake-up queue is bound to its sources' event exchanges, so every event the
relay publishes reaches it: a bulk intake's 1,000-record events (about a megabyte each) were
each delivered and JSON-decoded only to say "look now", a sixth of the alerts service's CPU
while its watch caught up. A busy projector needs one wake-up after its current work, not
one per event; and the last event's wake-up must never be lost.
"""

from __future__ import annotations

import threading
import time

import kombu
import pytest

from pmp import checkpoints
from pmp.broker import EventPublisher, event_exchange
from pmp.projector import Projector
from pmp.relay import Relay
from pmp.relayed import RelayedEvents
from pmp.sources import ClusterProxy, RpcSource, SourceUnavailable
from pmp.wakeups import listen_for_wakeups
from tests.helpers import notes
from tests.helpers.processes import wait_until


class Behind(notes.NoteIndex):
    name = "notes.behind"  # a projection of its own, at position 0


EVENTS = 200
BODY = b'{"records": "' + b"x" * 100_000 + b'"}'  # a large event, as an intake's


def test_a_burst_of_large_events_wakes_a_busy_projector_a_few_times_and_last_after_the_last(
    amqp_uri,
):
    woken: list[float] = []
    stop = threading.Event()

    def on_wake(_source: str) -> None:
        woken.append(time.monotonic())
        time.sleep(0.2)  # the projector's work, which the wake-up waits for

    exchange = event_exchange("submissions")
    with kombu.Connection(amqp_uri) as conn:
        exchange(conn.default_channel).declare()
        listener = threading.Thread(
            target=listen_for_wakeups,
            args=(amqp_uri, "alerts", ["submissions"], on_wake, stop, 0.2),
            daemon=True,
        )
        listener.start()
        wait_until(lambda: woken, 30, "the listener's first look")
        time.sleep(0.5)
        producer = kombu.Producer(conn.default_channel, exchange=exchange)
        for _ in range(EVENTS):
            producer.publish(
                BODY, routing_key="DispensationsRecorded", content_type="application/json"
            )
        published = time.monotonic()
        wait_until(lambda: woken[-1] > published, 30, "a wake-up after the last event")
        time.sleep(2)  # any wake-ups still on their way
    stop.set()
    listener.join(10)
    after_first = len(woken) - 1
    assert after_first < EVENTS / 10, f"{after_first} wake-ups for {EVENTS} events"


def test_a_listener_for_some_types_of_a_source_is_woken_by_those_types_only(amqp_uri):
    """The misuse watch applies only the query service's PatientSearched, yet every
    PatientReportViewed woke it to read the query store over RPC for nothing. A projection
    that names the types it applies of a source binds its wake-ups to those types."""
    woken: list[str] = []
    stop = threading.Event()
    exchange = event_exchange("query")
    with kombu.Connection(amqp_uri) as conn:
        exchange(conn.default_channel).declare()
        listener = threading.Thread(
            target=listen_for_wakeups,
            args=(amqp_uri, "audit", ["query"], woken.append, stop, 0.2),
            kwargs={"types": {"query": frozenset({"PatientSearched"})}},
            daemon=True,
        )
        listener.start()
        wait_until(lambda: woken, 30, "the listener's first look")
        woken.clear()
        producer = kombu.Producer(conn.default_channel, exchange=exchange)
        for kind in ("PatientReportViewed", "PatientReportViewed"):
            producer.publish(b"{}", routing_key=kind, content_type="application/json")
        time.sleep(1.0)
        assert woken == []
        producer.publish(b"{}", routing_key="PatientSearched", content_type="application/json")
        wait_until(lambda: woken, 30, "a wake-up for the type it applies")
    stop.set()
    listener.join(10)
    assert woken == ["query"]


def test_a_projector_takes_the_events_its_wake_ups_bring_and_reads_the_source_for_a_gap(
    amqp_uri, notes_store
):
    """Every lookup's two events were read back from the query service over RPC by the audit
    trail and the misuse watch, though each had just arrived as the relay's message. Here
    the source answers no call at all (no such service runs): the events the relay published
    are applied all the same; a reader whose next event never came to this process goes to
    the source, and does not skip it."""
    relayed = RelayedEvents()
    woken: list[str] = []
    stop = threading.Event()
    listener = threading.Thread(
        target=listen_for_wakeups,
        args=(amqp_uri, "audit", [notes.SERVICE], woken.append, stop, 0.2),
        kwargs={"on_event": lambda _source, body: relayed.offer(body)},
        daemon=True,
    )
    relay = Relay(notes_store, EventPublisher(amqp_uri, notes.SERVICE))
    relay.create_tables()
    proxy = ClusterProxy(amqp_uri, timeout=2)
    nowhere = RpcSource(notes.SERVICE, proxy, relayed=relayed)
    try:
        notes.write_notes(notes_store, 2)
        relay.relay_all()  # before the listener: these two never reach this process
        listener.start()
        wait_until(lambda: woken, 30, "the listener's first look")
        written = notes.write_notes(notes_store, 3)
        relay.relay_all()
        wait_until(lambda: relayed.newest == 5, 30, "the relayed events")

        projector = Projector(notes_store.db, notes.NoteIndex(), {notes.SERVICE: nowhere})
        projector.create_tables()
        projector.poll_interval = 3600.0  # the wake-up's read only, no poll of the source
        with notes_store.db.write() as conn:  # it has 1 and 2 already
            checkpoints.advance(conn, projector.checkpoint_name(notes.SERVICE), 0, 2)
        assert projector.catch_up() == 3
        assert {row[0] for row in notes.indexed(notes_store.db)} == set(written)

        behind = Projector(notes_store.db, Behind(), {notes.SERVICE: nowhere})
        with pytest.raises(SourceUnavailable):
            behind.catch_up()  # 1 and 2 are not here: it asks the source, which is not there
        assert behind.positions() == {notes.SERVICE: 0}
    finally:
        stop.set()
        if listener.is_alive():
            listener.join(10)
        relay.publisher.close()
        proxy.close()
