"""Guarantee 5: projectors commit their checkpoint with their read-model writes, catch up from
the store, can be rebuilt by replay, and run on exactly one replica at a time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from pmp import checkpoints, setaside
from pmp.envelope import Metadata, NewEvent
from pmp.projector import Projector
from pmp.sources import StoreSource
from tests.helpers import notes
from tests.helpers.processes import Process, python, wait_until


def projector_for(store, projection=None, batch_size=500) -> Projector:
    projector = Projector(
        store.db, projection or notes.NoteIndex(), {notes.SERVICE: StoreSource(store)}, batch_size
    )
    projector.create_tables()
    return projector


def test_catch_up_projects_everything_already_in_the_store(notes_store):
    notes.write_notes(notes_store, 30)
    projector = projector_for(notes_store, batch_size=7)  # created after the events

    assert projector.catch_up() == 30
    assert len(notes.indexed(notes_store.db)) == 30
    assert projector.positions() == {notes.SERVICE: notes_store.head_position()}
    assert projector.catch_up() == 0, "a second catch-up applied events again"


def test_an_event_that_fails_is_set_aside_and_the_rest_of_its_batch_applied(notes_store):
    notes.write_notes(notes_store, 10)  # "note 0" .. "note 9"
    broken = CountingNoteIndex(fail_on="note 7")
    projector = projector_for(notes_store, broken, batch_size=5)

    assert projector.catch_up() == 10
    texts = [row[1] for row in notes.indexed(notes_store.db)]
    assert texts == [f"note {i}" for i in range(10) if i != 7], "applied twice, lost or kept"
    assert projector.positions()[notes.SERVICE] == notes_store.head_position()
    assert broken.tries["note 7"] == 3  # in its batch, then alone twice
    assert broken.tries["note 5"] == 2  # in its batch (which failed), then alone
    assert broken.tries["note 8"] == 1  # its batch failed before it; then alone
    with notes_store.db.read() as conn:
        [entry] = setaside.listed(conn, broken.name)
    assert (entry.event_type, entry.tries, entry.source) == ("NoteWritten", 3, notes.SERVICE)
    assert entry.error.startswith("RuntimeError: cannot project '…' (tests/helpers/notes.py:")
    assert entry.position == notes_store.read_all(0, 100)[7].position

    # After a fix the operator asks for a retry: the replica that leads applies it.
    with notes_store.db.write() as conn:
        assert setaside.request_retry(conn, broken.name) == 1
    still_broken = projector_for(notes_store, CountingNoteIndex(fail_on="note 7"))
    assert still_broken.retry_requested() == 1
    with notes_store.db.read() as conn:
        [entry] = setaside.listed(conn, broken.name)
    assert entry.tries == 4 and entry.retry_requested_at is None  # stays, with the new error

    with notes_store.db.write() as conn:
        setaside.request_retry(conn, broken.name, entry.event_id)
    fixed = projector_for(notes_store)
    assert fixed.retry_requested() == 1
    with notes_store.db.read() as conn:
        assert setaside.listed(conn, broken.name) == []
    texts = [row[1] for row in notes.indexed(notes_store.db)]
    assert texts == [f"note {i}" for i in range(10)]
    assert fixed.retry_requested() == 0


def test_the_running_loop_looks_for_requested_retries_once_a_poll_interval(notes_store):
    """Each wake-up (each lookup's events) was also a query for retries operators asked
    for, per projection: the running loop now looks once a poll interval."""
    notes.write_notes(notes_store, 3)
    running = projector_for(notes_store, CountingNoteIndex(fail_on="note 1"))
    running.poll_interval = 3600.0
    running._keep_current()  # the first turn looks (and sets note 1 aside)
    with notes_store.db.write() as conn:
        assert setaside.request_retry(conn, running.name) == 1

    running.projection.fail_on = None  # fixed
    running._keep_current()  # a wake-up within the interval: not looked for yet
    assert [row[1] for row in notes.indexed(notes_store.db)] == ["note 0", "note 2"]
    running.poll_interval = 0.0  # the interval has passed
    running._keep_current()
    assert [row[1] for row in notes.indexed(notes_store.db)] == ["note 0", "note 1", "note 2"]


class CountingNoteIndex(notes.NoteIndex):
    """Counts how often each note was tried."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.tries: dict[str, int] = {}

    def apply(self, conn, source, event):
        text = event.data["text"]
        self.tries[text] = self.tries.get(text, 0) + 1
        super().apply(conn, source, event)


class UnavailableNoteIndex(notes.NoteIndex):
    """Its database goes away at one note: a transient failure, not the note's fault."""

    def apply(self, conn, source, event):
        if event.data["text"] == self.fail_on:
            raise sa.exc.OperationalError("INSERT", {}, ConnectionError("server closed"))
        super().apply(conn, source, event)


def test_a_transient_failure_sets_nothing_aside_and_waits_at_the_checkpoint(notes_store):
    notes.write_notes(notes_store, 6)
    projector = projector_for(notes_store, UnavailableNoteIndex(fail_on="note 4"), batch_size=3)
    with pytest.raises(sa.exc.OperationalError):
        projector.catch_up()
    assert [row[1] for row in notes.indexed(notes_store.db)] == ["note 0", "note 1", "note 2"]
    with notes_store.db.read() as conn:
        assert setaside.listed(conn) == []
    assert projector.positions()[notes.SERVICE] == notes_store.read_all(0, 100)[2].position
    assert projector.lag_seconds() > 0, "a projection waiting on its database shows a lag"
    assert projector_for(notes_store).catch_up() == 3
    assert projector.lag_seconds() > 0  # the stuck replica's own view until it looks again


def test_a_stale_batch_is_refused_when_the_checkpoint_moved(notes_store):
    notes.write_notes(notes_store, 3)
    projector = projector_for(notes_store)
    with notes_store.db.write() as conn:
        checkpoints.advance(conn, projector.checkpoint_name(notes.SERVICE), 0, 2)
    with pytest.raises(checkpoints.CheckpointMoved), notes_store.db.write() as conn:
        checkpoints.advance(conn, projector.checkpoint_name(notes.SERVICE), 0, 3)


def test_rebuild_by_replay_ends_with_the_same_read_model(notes_store):
    notes.write_notes(notes_store, 40)
    projector = projector_for(notes_store, batch_size=9)
    projector.catch_up()
    before = sorted(row[:2] for row in notes.indexed(notes_store.db))

    projector.reset()
    assert notes.indexed(notes_store.db) == []
    assert projector.positions() == {notes.SERVICE: 0}
    assert projector.catch_up() == 40
    assert sorted(row[:2] for row in notes.indexed(notes_store.db)) == before


def test_only_one_replica_projects_and_another_takes_over_when_it_is_killed(
    notes_env, notes_store, tmp_path
):
    db = notes_store.db

    def applied_by() -> dict[str, int]:
        with db.read() as conn:
            rows = conn.execute(
                sa.select(notes.note_index.c.applied_by, sa.func.count()).group_by(
                    notes.note_index.c.applied_by
                )
            ).all()
        return dict(rows)

    first = Process(
        "replica-a", python("-m", "tests.helpers.projector_worker", "a"), notes_env, tmp_path
    )
    try:
        notes.write_notes(notes_store, 5)
        wait_until(
            lambda: applied_by() == {"a": 5}, 30, "replica a projected 5 notes", watch=[first]
        )
        second = Process(
            "replica-b", python("-m", "tests.helpers.projector_worker", "b"), notes_env, tmp_path
        )
        wait_until(
            lambda: "replica b running" in second.log(), 30, "replica b started", watch=[second]
        )
        notes.write_notes(notes_store, 5)
        wait_until(lambda: applied_by() == {"a": 10}, 30, "a, the leader, projected 10 notes")

        first.kill()
        notes.write_notes(notes_store, 5)
        wait_until(
            lambda: applied_by() == {"a": 10, "b": 5},
            15,
            "replica b took over and projected the next 5 notes",
            watch=[second],
        )
        with db.read() as conn:
            ids = conn.scalars(sa.select(notes.note_index.c.event_id)).all()
        assert len(ids) == len(set(ids)) == 15
    finally:
        first.stop()
        if "second" in locals():
            second.stop()


class BatchedNoteIndex(notes.NoteIndex):
    """Writes a batch's notes in one go at its end, as the alerts watch evaluates once."""

    def __init__(self, fail_at_end_on: str | None = None):
        super().__init__()
        self.fail_at_end_on = fail_at_end_on
        self.batches: list[tuple[int, int]] = []  # (checkpoint it began at, last position)
        self.pending: list = []

    def begin_batch(self, conn, source, after_position):
        self.pending = []
        self.began = after_position

    def apply(self, conn, source, event):
        self.pending.append(event)

    def end_batch(self, conn, source, last_position):
        for event in self.pending:
            super().apply(conn, source, event)
        if any(e.data["text"] == self.fail_at_end_on for e in self.pending):
            raise RuntimeError("failed after writing the batch")
        self.batches.append((self.began, last_position))


def test_a_failure_at_the_end_of_a_batch_is_pinned_to_its_event(notes_store):
    notes.write_notes(notes_store, 7)
    ids = [e.event_id for e in notes_store.read_all(0, 100)]
    batched = BatchedNoteIndex(fail_at_end_on="note 3")
    projector = projector_for(notes_store, batched, batch_size=5)
    assert projector.catch_up() == 7
    texts = [row[1] for row in notes.indexed(notes_store.db)]
    assert texts == ["note 0", "note 1", "note 2", "note 4", "note 5", "note 6"], (
        "what end_batch wrote for the failed event outlived its rollback"
    )
    with notes_store.db.read() as conn:
        assert [e.event_id for e in setaside.listed(conn, batched.name)] == [ids[3]]
    # Each event of the failed batch was its own batch, opened at the checkpoint before it.
    positions = [e.position for e in notes_store.read_all(0, 100)]
    assert batched.batches == [
        (0, positions[0]),
        (positions[0], positions[1]),
        (positions[1], positions[2]),
        (positions[3], positions[4]),
        (positions[4], positions[6]),
    ]


class SlowNoteIndex(notes.NoteIndex):
    """Takes a while per note: behind a steady writer, it never catches up."""

    def apply(self, conn, source, event):
        time.sleep(0.01)
        super().apply(conn, source, event)


def test_under_steady_appends_the_leader_still_applies_retries_and_checks_its_lead(notes_store):
    """A projector that never catches up (appends keep coming faster than it applies them)
    once never came back from its catch-up: an operator's retry waited for a lull that never
    came, and its lead was never checked again. It now returns to both every turn."""
    notes.write_notes(notes_store, 10)
    projector_for(notes_store, notes.NoteIndex(fail_on="note 7")).catch_up()  # 7 set aside
    name = notes.NoteIndex.name
    writing, stop, wake = threading.Event(), threading.Event(), threading.Event()

    def write_steadily() -> None:
        while not writing.is_set():
            notes.write_notes(notes_store, 1)  # "note 0" again: applies fine
            time.sleep(0.002)

    behind = projector_for(notes_store, SlowNoteIndex(), batch_size=10)
    behind.turn_seconds = 0.5
    threads = [
        threading.Thread(target=write_steadily, daemon=True),
        threading.Thread(target=behind.run, args=(stop, wake, 0.05), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: behind.positions()[notes.SERVICE] > 10, 30, "the projector running")
        with notes_store.db.write() as conn:
            assert setaside.request_retry(conn, name) == 1

        def retried() -> bool:
            with notes_store.db.read() as conn:
                return setaside.listed(conn, name) == []

        wait_until(retried, 30, "the retry applied while appends keep coming")
        assert notes_store.head_position() > behind.positions()[notes.SERVICE], "caught up"
    finally:
        writing.set()
        stop.set()
        for thread in threads:
            thread.join(10)


class StarredNotes(notes.NoteIndex):
    """Indexes starred notes only: most of its source's events are of a type it never
    applies (as most of the query service's events are searches its registry projections
    pass over)."""

    name = "notes.starred"
    types = {notes.SERVICE: frozenset({"NoteStarred"})}


def writes_during(db, work) -> int:
    """How many write transactions ``work`` opened on ``db``."""
    opened = []
    write = db.write

    def counted():
        opened.append(1)
        return write()

    db.write = counted
    try:
        work()
    finally:
        del db.write
    return len(opened)


def test_events_of_types_a_projection_does_not_apply_are_passed_over_without_a_write(
    notes_store,
):
    """Each lookup appends two events to the query service's store, and each projection of
    that store committed its checkpoint past them, one write per batch per projection: most
    of the query service's CPU per lookup. Passed-over events move the checkpoint with the
    next write, or once the projection has caught up."""
    notes_store.registry.register("NoteStarred", notes.NoteWritten)
    notes.write_notes(notes_store, 200)
    notes_store.append("notebook", notes_store.ANY, [
        NewEvent("NoteStarred", {"text": "starred 1"}, Metadata(datetime.now(UTC)))])  # fmt: skip
    notes.write_notes(notes_store, 100)
    projector = projector_for(notes_store, StarredNotes(), batch_size=50)

    writes = writes_during(notes_store.db, projector.catch_up)

    assert [row[1] for row in notes.indexed(notes_store.db)] == ["starred 1"]
    assert projector.positions() == {notes.SERVICE: notes_store.head_position()}
    assert writes <= 2, f"{writes} writes for 7 batches and one event applied"
    assert projector.catch_up() == 0

    notes.write_notes(notes_store, 30)  # a catch-up that applies nothing still ends current
    assert projector.catch_up() == 30
    assert projector.positions() == {notes.SERVICE: notes_store.head_position()}


def test_a_running_projection_writes_events_passed_over_once_enough_or_long_enough(notes_store):
    """Each lookup's two events woke every projection of the query service's store, and
    the ones that pass them over still committed their checkpoint at each turn's end: a
    commit per lookup per projection. The running loop holds them until
    ``passed_write_events`` are held, or the oldest for ``passed_write_seconds``."""
    notes_store.registry.register("NoteStarred", notes.NoteWritten)
    running = projector_for(notes_store, StarredNotes())
    running.passed_write_events = 10
    running.passed_write_seconds = 3600.0
    start = notes_store.head_position()

    def turn() -> int:  # a lookup's event, then the loop's turn: its writes
        notes.write_notes(notes_store, 1)
        return writes_during(notes_store.db, running._keep_current)

    assert [turn() for _ in range(9)] == [0] * 9
    assert running.positions() == {notes.SERVICE: start}
    assert turn() == 1  # the tenth
    assert running.positions() == {notes.SERVICE: notes_store.head_position()}

    running.passed_write_seconds = 0.0  # held long enough
    assert turn() == 1
    assert running.positions() == {notes.SERVICE: notes_store.head_position()}


def test_passed_over_events_are_read_again_after_a_rebuild_moved_the_checkpoint(notes_store):
    """``pmp projections rebuild`` resets the checkpoint from another process while the
    service's projector holds passed-over events in memory: its next write finds the
    checkpoint moved, and it reads again from where the checkpoint now is."""
    notes_store.registry.register("NoteStarred", notes.NoteWritten)
    notes_store.append("notebook", notes_store.ANY, [
        NewEvent("NoteStarred", {"text": "starred"}, Metadata(datetime.now(UTC)))])  # fmt: skip
    notes.write_notes(notes_store, 20)
    running = projector_for(notes_store, StarredNotes(), batch_size=5)
    assert running.catch_up() == 21
    notes.write_notes(notes_store, 10)
    running.project_once()  # five passed over, not yet written

    projector_for(notes_store, StarredNotes()).reset()  # the rebuild's first step

    with pytest.raises(checkpoints.CheckpointMoved):
        running.catch_up()
    running._keep_current()  # what the running loop does next
    assert [row[1] for row in notes.indexed(notes_store.db)] == ["starred"]
    running.catch_up()  # ends with the checkpoints written
    assert running.positions() == {notes.SERVICE: notes_store.head_position()}


class TwoNotebooks(notes.NoteIndex):
    """A projection of two sources, as the audit trail and the probe arrivals read every
    service."""

    name = "notes.two_notebooks"
    sources = (notes.SERVICE, "elsewhere")


class CountedReads:
    """A source that counts how often it is read."""

    def __init__(self, source):
        self.source = source
        self.reads = 0

    def read(self, after_position: int, limit: int):
        self.reads += 1
        return self.source.read(after_position, limit)


def test_a_wake_up_from_one_source_reads_that_source_and_the_others_once_a_poll(notes_store):
    """Every lookup's events woke the audit trail and the probe arrivals, which then asked
    each of the seven other services for its new events: twenty-odd RPCs per lookup to
    services that had nothing new. A woken projection reads the sources it was woken for,
    and every source at most once a poll interval (a lost wake-up is found there)."""
    here, elsewhere = CountedReads(StoreSource(notes_store)), CountedReads(StoreSource(notes_store))
    projector = Projector(notes_store.db, TwoNotebooks(),
                          {notes.SERVICE: here, "elsewhere": elsewhere})  # fmt: skip
    projector.create_tables()
    projector.poll_interval = 3600.0  # as the running loop sets it: no poll during the test
    projector.catch_up()  # the first look reads every source
    elsewhere.reads = 0

    for _ in range(5):
        notes.write_notes(notes_store, 1)
        projector.wake_for(notes.SERVICE)
        projector.catch_up()

    assert elsewhere.reads == 0
    assert len(notes.indexed(notes_store.db)) == 5  # each note from "here"
    projector.wake_for("")  # a listener back after an outage: it cannot say who
    projector.catch_up()
    assert elsewhere.reads == 1  # its five notes: they reached its head, no read finds none
    assert len(notes.indexed(notes_store.db)) == 10


def test_a_wake_up_for_events_of_types_it_never_applies_reads_nothing_until_the_poll(
    notes_store,
):
    """Each lookup's two events woke the query service's four projections of its own store,
    and each read them (and read again to find nothing newer), though three apply neither
    type and the fourth only one. An append names its types: a projection woken for types
    it never applies does not read; the poll still moves its checkpoint past them."""
    here = CountedReads(StoreSource(notes_store))
    projector = Projector(notes_store.db, StarredNotes(), {notes.SERVICE: here})
    projector.create_tables()
    projector.poll_interval = 3600.0
    projector.catch_up()
    here.reads = 0

    notes.write_notes(notes_store, 3)
    assert not projector.wake_for(notes.SERVICE, frozenset({"NoteWritten"}))
    projector.catch_up()
    assert here.reads == 0

    assert projector.wake_for(notes.SERVICE, frozenset({"NoteWritten", "NoteStarred"}))
    assert projector.wake_for(notes.SERVICE)  # types unknown (``append_in``): any may apply
    projector.catch_up()
    assert here.reads >= 1

    here.reads = 0
    notes.write_notes(notes_store, 2)
    projector.poll_interval = 0.0  # the poll reads every source, whatever woke it
    projector.catch_up()
    assert here.reads >= 1
    assert projector.positions() == {notes.SERVICE: notes_store.head_position()}


def test_a_batch_that_reached_the_head_is_not_followed_by_a_read_that_finds_nothing(
    notes_store,
):
    """Each wake-up cost two reads, the second to find nothing newer: for the audit trail
    and the misuse watch, a second ``read_events`` RPC to the query service per event. The
    store says whether a batch was cut short (by its limit or its byte budget); only then is
    the source read on at once."""
    here = CountedReads(StoreSource(notes_store))
    projector = Projector(notes_store.db, notes.NoteIndex(), {notes.SERVICE: here}, batch_size=5)
    projector.create_tables()
    projector.poll_interval = 3600.0
    projector.catch_up()
    here.reads = 0

    notes.write_notes(notes_store, 3)
    projector.wake_for(notes.SERVICE)
    assert projector.catch_up() == 3
    assert here.reads == 1
    assert projector.lag_seconds() == 0.0

    here.reads = 0
    notes.write_notes(notes_store, 12)
    projector.wake_for(notes.SERVICE)
    assert projector.catch_up() == 12
    assert here.reads == 3  # 5 and 5 (cut by the limit: read on), then the last 2
    assert projector.positions() == {notes.SERVICE: notes_store.head_position()}
