"""Guarantee 5: projectors commit their checkpoint with their read-model writes, catch up from
the store, can be rebuilt by replay, and run on exactly one replica at a time."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pmp import checkpoints
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


def test_a_failing_batch_leaves_read_model_and_checkpoint_untouched(notes_store):
    notes.write_notes(notes_store, 10)  # "note 0" .. "note 9"
    broken = projector_for(notes_store, notes.NoteIndex(fail_on="note 7"), batch_size=5)

    assert broken.project_once() == 5  # notes 0-4 commit with their checkpoint
    with pytest.raises(RuntimeError, match="note 7"):
        broken.project_once()  # notes 5-9 fail at note 7: nothing of that batch stays
    assert [row[1] for row in notes.indexed(notes_store.db)] == [f"note {i}" for i in range(5)]
    position_after_five = broken.positions()[notes.SERVICE]

    fixed = projector_for(notes_store)
    assert fixed.positions()[notes.SERVICE] == position_after_five
    assert fixed.catch_up() == 5
    texts = [row[1] for row in notes.indexed(notes_store.db)]
    assert texts == sorted(f"note {i}" for i in range(10)), "an event was applied twice or lost"


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

    def __init__(self, fail_at_end: bool = False):
        super().__init__()
        self.fail_at_end = fail_at_end
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
        if self.fail_at_end:
            raise RuntimeError("failed after writing the batch")
        self.batches.append((self.began, last_position))


def test_a_batch_is_opened_at_its_checkpoint_and_closed_in_its_transaction(notes_store):
    notes.write_notes(notes_store, 7)
    head = notes_store.head_position()
    broken = projector_for(notes_store, BatchedNoteIndex(fail_at_end=True), batch_size=5)
    with pytest.raises(RuntimeError, match="after writing"):
        broken.project_once()
    assert notes.indexed(notes_store.db) == [], "what end_batch wrote outlived its rollback"

    batched = BatchedNoteIndex()
    projector = projector_for(notes_store, batched, batch_size=5)
    assert projector.catch_up() == 7
    assert len(notes.indexed(notes_store.db)) == 7
    first_end = batched.batches[0][1]
    assert batched.batches == [(0, first_end), (first_end, head)]
