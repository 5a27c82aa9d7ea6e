"""Guarantee 4: the store is the outbox; the relay publishes after commit, in order, at least
once, and consumers that record processed ids turn that into exactly-once effects."""

from __future__ import annotations

import json

import kombu
import sqlalchemy as sa

from pmp.broker import EventPublisher, event_exchange
from pmp.checkpoints import read as read_checkpoint
from pmp.config import load_settings
from pmp.relay import Relay
from tests.helpers import notes
from tests.helpers.processes import Process, python, wait_until


def bind_queue(amqp_uri: str, name: str = "observer") -> kombu.Queue:
    queue = kombu.Queue(name, exchange=event_exchange(notes.SERVICE), routing_key="#")
    with kombu.Connection(amqp_uri) as conn:
        queue(conn.default_channel).declare()
    return queue


def drain(amqp_uri: str, queue: kombu.Queue, expected: int) -> list[kombu.Message]:
    received: list[kombu.Message] = []
    with kombu.Connection(amqp_uri) as conn:
        simple = conn.SimpleQueue(queue)
        while len(received) < expected:
            message = simple.get(timeout=10)
            message.ack()
            received.append(message)
        simple.close()
    return received


def test_relay_publishes_committed_events_in_position_order_as_nameko_events(amqp_uri, notes_store):
    store = notes_store
    queue = bind_queue(amqp_uri)
    ids = notes.write_notes(store, 25, correlation_id="c0ffee00-0000-4000-8000-000000000001")

    relay = Relay(store, EventPublisher(amqp_uri, notes.SERVICE), batch_size=10)
    relay.create_tables()
    assert relay.relay_all() == 25
    assert relay.relay_all() == 0, "a second pass found events the checkpoint had covered"

    messages = drain(amqp_uri, queue, 25)
    bodies = [json.loads(m.body) for m in messages]
    assert [b["event_id"] for b in bodies] == [str(i) for i in ids]
    positions = [b["position"] for b in bodies]
    assert positions == sorted(positions)
    first = messages[0]
    assert first.delivery_info["routing_key"] == "NoteWritten"
    assert first.properties["delivery_mode"] == 2, "events must survive a broker restart"
    assert first.headers["nameko.correlation_id"] == "c0ffee00-0000-4000-8000-000000000001"
    with store.db.read() as conn:
        assert read_checkpoint(conn, "relay") == positions[-1]


def test_relay_killed_between_publish_and_checkpoint_leaves_every_effect_exactly_once(
    amqp_uri, notes_env, notes_store, tmp_path
):
    env = notes_env
    settings = load_settings(env)
    store = notes_store
    consumer_db = notes.consumer_db(settings)
    consumer = Process(
        "note_consumer",
        python(
            "-m", "nameko", "run", "tests.helpers.note_consumer:NoteConsumer", "--broker", amqp_uri
        ),
        env,
        tmp_path,
    )
    try:
        wait_until(
            lambda: _queue_exists(amqp_uri, "evt-notes-NoteWritten--note_consumer.on_note"),
            30,
            "the consumer declared its queue",
            watch=[consumer],
        )
        ids = notes.write_notes(store, 120)

        crashed = Process(
            "relay-crash",
            python("-m", "tests.helpers.relay_worker", "--crash-before-checkpoint"),
            env,
            tmp_path,
        )
        assert crashed.wait() == -9, crashed.log()
        with store.db.read() as conn:
            assert read_checkpoint(conn, "relay") == 0, "the checkpoint moved before the crash"

        restarted = Process("relay", python("-m", "tests.helpers.relay_worker"), env, tmp_path)
        assert restarted.wait() == 0, restarted.log()
        assert "relayed 120 events" in restarted.log()

        def counts():
            with consumer_db.read() as conn:
                delivered = conn.scalar(sa.select(sa.func.count()).select_from(notes.deliveries))
                effected = conn.scalar(sa.select(sa.func.count()).select_from(notes.effects))
            return delivered, effected

        wait_until(
            lambda: counts() == (170, 120),
            60,
            "170 deliveries and 120 effects",
            watch=[consumer],
        )
        with consumer_db.read() as conn:
            effect_ids = conn.scalars(sa.select(notes.effects.c.event_id)).all()
        assert sorted(effect_ids) == sorted(ids), "an event took effect twice or never"
    finally:
        consumer.stop()
        consumer_db.dispose()


def _queue_exists(amqp_uri: str, name: str) -> bool:
    with kombu.Connection(amqp_uri) as conn:
        try:
            conn.default_channel.queue_declare(name, passive=True)
        except conn.channel_errors:
            return False
    return True
