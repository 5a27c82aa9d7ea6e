"""The event store's guarantees 1-3, each proved on SQLite and on PostgreSQL.

Every test here runs twice through the ``database`` fixture; a backend that breaks a
guarantee fails the same test the other passes.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import sqlalchemy as sa
from marshmallow import Schema, fields

from pmp.envelope import Metadata, NewEvent
from pmp.eventstore import ConcurrencyError, EventIdReused, EventStore
from pmp.registry import EventRegistry, EventValidationError
from pmp.service import AppendedSince

T0 = datetime(2026, 11, 1, 14, 30, tzinfo=UTC)


class NoteWritten(Schema):
    text = fields.String(required=True)
    words = fields.Integer(required=True, strict=True)


class AccountOpened(Schema):
    email = fields.Email(required=True)


def registry() -> EventRegistry:
    reg = EventRegistry()
    reg.register("NoteWritten", NoteWritten)
    reg.register("AccountOpened", AccountOpened)
    return reg


@pytest.fixture
def store(database) -> EventStore:
    store = EventStore(database, registry())
    store.create_tables()
    return store


def note(text: str = "hello", **meta) -> NewEvent:
    return NewEvent(
        "NoteWritten",
        {"text": text, "words": len(text.split())},
        Metadata(occurred_at=T0, **meta),
    )


def stored_ids(store: EventStore) -> list[uuid.UUID]:
    return [e.event_id for e in store.read_all(0, limit=100_000)]


# -- guarantee 1: atomic appends, optimistic concurrency, idempotent ids --------------------


def test_append_assigns_versions_and_positions_in_order(store):
    assert store.append("note-1", 0, [note("a"), note("b")]) == 2
    assert store.append("note-2", 0, [note("c")]) == 1
    assert store.append("note-1", 2, [note("d")]) == 3

    stream = store.read_stream("note-1")
    assert [e.version for e in stream] == [1, 2, 3]
    assert [e.data["text"] for e in stream] == ["a", "b", "d"]

    everything = store.read_all()
    assert [e.data["text"] for e in everything] == ["a", "b", "c", "d"]
    positions = [e.position for e in everything]
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert store.head_position() == positions[-1]


def test_metadata_comes_back_as_written(store):
    correlation = str(uuid.uuid4())
    event = note(actor_id="acct-7", actor_role="prescriber", correlation_id=correlation)
    store.append("note-1", 0, [event])
    [recorded] = store.read_stream("note-1")
    assert recorded.event_id == event.event_id
    assert recorded.metadata == event.metadata
    assert recorded.metadata.occurred_at.tzinfo is not None
    assert recorded.stream == "note-1" and recorded.type == "NoteWritten"


def test_wrong_expected_version_raises_and_writes_nothing(store):
    store.append("note-1", 0, [note("a")])
    head = store.head_position()

    with pytest.raises(ConcurrencyError) as stale:
        store.append("note-1", 0, [note("b"), note("c")])
    assert (stale.value.expected, stale.value.actual) == (0, 1)
    with pytest.raises(ConcurrencyError):
        store.append("note-1", 5, [note("ahead")])

    assert [e.data["text"] for e in store.read_stream("note-1")] == ["a"]
    assert store.head_position() == head


def test_reappending_stored_event_ids_is_a_no_op(store):
    batch = [note("a"), note("b")]
    assert store.append("note-1", 0, batch) == 2
    # A retry of the same command after a lost reply: same ids, now-stale expected version.
    assert store.append("note-1", 0, batch) == 2
    assert store.append("note-1", EventStore.ANY, batch) == 2
    assert len(store.read_all()) == 2


def test_reusing_some_event_ids_is_refused(store):
    first = note("a")
    store.append("note-1", 0, [first])
    with pytest.raises(EventIdReused):
        store.append("note-1", 1, [note("new"), first])
    assert len(store.read_all()) == 1


def test_any_version_appends_after_whatever_is_there(store):
    store.append("probe", EventStore.ANY, [note("a")])
    assert store.append("probe", EventStore.ANY, [note("b")]) == 2


def test_two_writers_racing_on_one_version_give_exactly_one_error(store):
    """Both writers read version 0 before either commits; exactly one must lose."""
    rounds = 15
    results: list[str] = []
    lock = threading.Lock()

    @sa.event.listens_for(store.db.engine, "commit")
    def hold_transaction_open(_conn):  # the other writer reads version 0 meanwhile
        time.sleep(0.01)

    def writer(stream: str, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            store.append(stream, 0, [note()])
            outcome = "ok"
        except ConcurrencyError:
            outcome = "conflict"
        with lock:
            results.append(outcome)

    for i in range(rounds):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=writer, args=(f"race-{i}", barrier)) for _ in "ab"]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert results.count("ok") == rounds
    assert results.count("conflict") == rounds
    for i in range(rounds):
        assert len(store.read_stream(f"race-{i}")) == 1


# -- guarantee 2: readers tailing by position never skip an event ---------------------------


def test_tailing_readers_see_every_event_once_in_order_under_adversarial_writers(store):
    """8 writers, random delays inside each transaction, 2 readers tailing by position."""
    writers, per_writer = 8, 40
    rng = random.Random(20261122)

    @sa.event.listens_for(store.db.engine, "commit")
    def delay_commit(_conn):  # runs inside the transaction, just before COMMIT
        time.sleep(rng.random() * 0.006)

    appended: list[uuid.UUID] = []
    appended_lock = threading.Lock()
    writers_done = threading.Event()
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            for i in range(per_writer):
                event = note(f"w{w} e{i}")
                store.append(f"writer-{w}-{i % 3}", EventStore.ANY, [event])
                with appended_lock:
                    appended.append(event.event_id)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    seen: dict[int, list[tuple[int, uuid.UUID, str, int]]] = {0: [], 1: []}

    def tail(r: int) -> None:
        try:
            after = 0
            while True:
                finished = writers_done.is_set()  # read before the poll: no lost tail
                batch = store.read_all(after, limit=17)
                for e in batch:
                    seen[r].append((e.position, e.event_id, e.stream, e.version))
                    after = e.position
                if not batch and finished:
                    return
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=tail, args=(r,)) for r in range(2)]
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in readers + threads:
        t.start()
    for t in threads:
        t.join()
    writers_done.set()
    for t in readers:
        t.join()

    assert not errors, errors
    assert len(appended) == writers * per_writer
    for r in (0, 1):
        positions = [p for p, *_ in seen[r]]
        ids = [i for _, i, *_ in seen[r]]
        assert positions == sorted(positions), f"reader {r} saw positions out of order"
        assert len(set(positions)) == len(positions)
        assert len(ids) == len(set(ids)), f"reader {r} saw an event twice"
        assert set(ids) == set(appended), f"reader {r} missed events"
        last_version: dict[str, int] = {}
        for _, _, stream, version in seen[r]:
            assert version == last_version.get(stream, 0) + 1, "stream order broken"
            last_version[stream] = version


# -- guarantee 3: schemas on append, upcasting on read --------------------------------------


def test_event_failing_its_schema_is_refused_naming_the_field(store):
    bad = NewEvent("NoteWritten", {"text": "a", "words": "many"}, Metadata(occurred_at=T0))
    with pytest.raises(EventValidationError) as refused:
        store.append("note-1", 0, [note("fine"), bad])
    assert "words" in refused.value.errors
    assert "words" in str(refused.value)
    assert store.read_all() == [], "the valid event of the refused batch was stored"


def test_unknown_fields_and_unregistered_types_are_refused(store):
    extra = NewEvent(
        "AccountOpened", {"email": "a@example.org", "role": "admin"}, Metadata(occurred_at=T0)
    )
    with pytest.raises(EventValidationError) as refused:
        store.append("acct-1", 0, [extra])
    assert "role" in refused.value.errors

    unknown = NewEvent("AccountHacked", {}, Metadata(occurred_at=T0))
    with pytest.raises(EventValidationError, match="no schema is registered for AccountHacked"):
        store.append("acct-1", 0, [unknown])


def test_old_schema_versions_are_upcast_on_read(database):
    v1 = EventRegistry()
    v1.register("AccountOpened", AccountOpened)
    old = EventStore(database, v1)
    old.create_tables()
    old.append("acct-1", 0, [NewEvent("AccountOpened", {"email": "a@b.org"}, Metadata(T0))])

    class AccountOpenedV2(Schema):
        email = fields.Email(required=True)
        email_verified = fields.Boolean(required=True)

    v2 = EventRegistry()
    v2.register(
        "AccountOpened",
        AccountOpenedV2,
        version=2,
        upcasters={1: lambda data: {**data, "email_verified": False}},
    )
    new = EventStore(database, v2)
    new.append(
        "acct-2",
        0,
        [NewEvent("AccountOpened", {"email": "c@d.org", "email_verified": True}, Metadata(T0))],
    )

    [upcast] = new.read_stream("acct-1")
    assert upcast.schema_version == 2
    assert upcast.data == {"email": "a@b.org", "email_verified": False}
    assert [e.schema_version for e in new.read_all()] == [2, 2]

    # read as stored (the relay): the same bodies, the old one upcast, the current one as is
    as_stored = [orjson.loads(orjson.dumps(e.to_json())) for e in new.read_all(as_stored=True)]
    assert as_stored == [e.to_json() for e in new.read_all()]
    assert as_stored[0]["data"] == {"email": "a@b.org", "email_verified": False}


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        note_at = Metadata(occurred_at=datetime(2026, 1, 1) + timedelta(0))
        NewEvent("NoteWritten", {"text": "a", "words": 1}, note_at)


def test_writers_in_separate_processes_never_make_a_reader_skip(notes_env, notes_store, tmp_path):
    """SQLite's write lock and PostgreSQL's stamping hold across processes, not just threads."""
    from tests.helpers.processes import Process, python

    seen: list[tuple[int, uuid.UUID]] = []
    done = threading.Event()

    def tail() -> None:
        after = 0
        while True:
            finished = done.is_set()
            batch = notes_store.read_all(after, limit=13)
            seen.extend((e.position, e.event_id) for e in batch)
            after = batch[-1].position if batch else after
            if not batch and finished:
                return

    reader = threading.Thread(target=tail)
    reader.start()
    writers = [
        Process(
            f"writer-{w}",
            python("-m", "tests.helpers.notes_writer", str(w), "60"),
            notes_env,
            tmp_path,
        )
        for w in range(4)
    ]
    try:
        assert [writer.wait(timeout=120) for writer in writers] == [0, 0, 0, 0]
    finally:
        done.set()
        reader.join()
        for writer in writers:
            writer.stop()
    written = {uuid.UUID(line) for w in writers for line in w.log().split()}
    positions = [p for p, _ in seen]
    assert len(written) == 240
    assert positions == sorted(set(positions)), "a reader saw positions out of order or twice"
    assert len(seen) == 240 and {i for _, i in seen} == written


def test_an_append_inside_a_transaction_commits_and_rolls_back_with_it(store):
    store.append("notes-1", 0, [note("before")])
    with store.db.write() as conn:
        assert store.append_in(conn, "notes-2", [note("kept one"), note("kept two")]) == 2
    with pytest.raises(RuntimeError), store.db.write() as conn:
        store.append_in(conn, "notes-2", [note("never seen")])
        raise RuntimeError("the projection's batch failed")
    store.append("notes-1", 1, [note("after")])
    read = store.read_all(0, limit=100)
    assert [e.data["text"] for e in read] == ["before", "kept one", "kept two", "after"]
    assert [e.position for e in read] == sorted(e.position for e in read)
    assert [e.version for e in store.read_stream("notes-2")] == [1, 2]
    with store.db.write() as conn:
        assert store.append_in(conn, "notes-2", [note("third")]) == 3


def test_a_projection_that_may_append_wakes_the_relay_only_after_a_batch_that_did(store):
    """The misuse watch may append a signal with any batch, so the relay was woken after
    each: every lookup cost the audit service a relay read and a trail read of its own
    store that found nothing. It is woken after a batch that appended, and only then."""
    woken: list[str] = []
    told = AppendedSince(store, lambda: woken.append("relay"))
    with store.db.write() as conn:
        conn.execute(sa.text("SELECT 1"))  # a batch that derived nothing
    told()
    assert woken == []
    with store.db.write() as conn:
        store.append_in(conn, "signals-1", [note("a signal")])
    told()
    told()  # the next batch, which appended nothing
    assert woken == ["relay"]


def test_reading_a_few_streams_in_position_order_skips_every_other_event(store):
    store.append("policy", 0, [note("policy 1")])
    store.append("busy", 0, [note(f"busy {i}") for i in range(30)])
    store.append("policy", 1, [note("policy 2")])
    store.append("busy", 30, [note("busy last")])
    store.append("other", 0, [note("other 1")])

    wanted = store.read_streams(["policy", "other"], 0, limit=10)
    assert [e.data["text"] for e in wanted] == ["policy 1", "policy 2", "other 1"]
    everything = {e.event_id: e.position for e in store.read_all(0, limit=100)}
    assert [e.position for e in wanted] == [everything[e.event_id] for e in wanted]
    after_first = store.read_streams(["policy", "other"], wanted[0].position, limit=1)
    assert [e.data["text"] for e in after_first] == ["policy 2"]
    assert store.head_of(["policy"]) == wanted[1].position
    assert store.head_of(["nothing here"]) == 0


def test_a_stream_read_of_some_types_leaves_the_others_unread(store):
    """A submission's page needs its outcome, not its 1,000-record batches (a megabyte each):
    reading only the types asked for keeps its page from reading the whole file's records."""

    def opened(email: str) -> NewEvent:
        return NewEvent("AccountOpened", {"email": email}, Metadata(occurred_at=T0))

    store.append(
        "account-1", 0, [opened("pat@example.org"), note("large"), note("larger"),
                         opened("pat@example.com")]
    )  # fmt: skip
    read = store.read_stream("account-1", types=["AccountOpened"])
    assert [(e.version, e.data["email"]) for e in read] == [
        (1, "pat@example.org"), (4, "pat@example.com")
    ]  # fmt: skip
    assert [e.version for e in store.read_stream("account-1")] == [1, 2, 3, 4]
