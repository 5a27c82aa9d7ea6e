"""Each chunk of a file's intake in one transaction: its events, the keys and patients they
name, its error report lines and the submission's progress (issue 23: a crash between two
commits once left events without keys, and a resend recorded them twice).

The events are appended inside the transaction (``EventStore.append_in``): no expected
version is needed, since the intake lock (``desk.py``) makes the intake the only writer of
its submission's stream. The relay is woken once the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pmp.envelope import Metadata, NewEvent
from pmp.eventstore import EventStore
from services.submissions.intake import Chunk, Progress, submission_stream
from services.submissions.memory import IntakeTables

UNFINISHED = (
    "The file stopped being recorded before its end. What is counted here is stored, once; "
    "send the same file again to finish it: nothing already recorded is recorded twice."
)
TEST_UNFINISHED = (
    "The test file stopped being checked before its end; nothing of it was recorded. Send the "
    "same file again for its whole report: it continues where it stopped."
)


class Recorder(Protocol):
    """Who appends: the service's kernel (a worker's actor) or ``pmp ingest`` (the operator)."""

    store: EventStore

    def metadata(self) -> Metadata: ...

    def events_appended(self) -> None: ...


class Ledger:
    """The intake's memory (``intake.IntakeMemory``) over the service's tables and store."""

    def __init__(self, tables: IntakeTables, recorder: Recorder):
        self.tables, self.recorder = tables, recorder
        self.stored: Progress | None = None  # the progress the last stored chunk left

    def find(self, key: str) -> str | None:
        return self.tables.find(key)

    def find_many(self, keys: Sequence[str]) -> dict[str, str]:
        return self.tables.find_many(keys)

    def store(self, stream: str, chunk: Chunk) -> None:
        progress = chunk.progress
        metadata = self.recorder.metadata()
        new_events = [NewEvent(kind, data, metadata) for kind, data in chunk.changes]
        with self.tables.db.write() as conn:
            if new_events:
                self.recorder.store.append_in(conn, stream, new_events)
            self.tables.remember_in(conn, chunk.keys, chunk.patients)
            first = progress.errors - len(chunk.errors)
            self.tables.save_errors_in(conn, progress.submission_id, first, chunk.errors)
            if chunk.notes:
                self.tables.save_notes_in(conn, progress.submission_id, chunk.notes)
            self.tables.save_progress_in(conn, progress)
        self.stored = progress
        if new_events:
            self.recorder.events_appended()

    def interrupt(self, progress: Progress) -> None:
        """Give the submission its outcome, "interrupted", with what it stored: its intake
        died (or failed) and nobody is running it (the caller holds the intake lock)."""
        test = progress.test_file
        data = {**progress.counts, "reason": TEST_UNFINISHED if test else UNFINISHED}
        data["test_file"] = test
        chunk = Chunk([("SubmissionInterrupted", data)], progress.snapshot(state="interrupted"))
        self.store(submission_stream(progress.submission_id), chunk)
