"""The submissions desk: one intake at a time for the whole deployment.

The patient index lives in memory, so two intakes running at once (two replicas, or the
service and ``pmp ingest``) could each make a new person for the same patient. The desk
takes a lock shared by every process on the service's database before each file, and first
brings its index up to date with the patients other processes have learnt since and the
administrators' merges and splits.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

from pmp.db import Database
from pmp.leader import Leadership
from services.submissions.drugs import DrugReference, load_reference
from services.submissions.intake import EventSink, Intake, Outcome
from services.submissions.memory import IntakeTables
from services.submissions.patients import PatientIndex
from services.submissions.reading import OpenFile, Reading, read_inline

LOCK = "submissions.intake"


class Desk:
    def __init__(self, db: Database, reference: DrugReference | None = None):
        self.db = db
        self.tables = IntakeTables(db)
        self.reference = reference or load_reference()
        self.index = PatientIndex()
        self.changes = 0  # the last change to the index (merge, split) applied
        self._local = threading.Lock()

    def ingest(
        self,
        path: Path,
        filename: str,
        channel: str,
        sink: EventSink,
        received_at: datetime,
        progress: Callable[[int], None] | None = None,
        read: Callable[[OpenFile, datetime], AbstractContextManager[Reading]] = read_inline,
    ) -> dict[str, Any]:
        """Take the file at ``path``, received at ``received_at``: recognise a repeat, else
        record it. Returns the submission's id, status, counts and the number of errors in
        its report. ``read``: ``reading.read_in_worker`` reads the file in a second process
        (bulk loads)."""
        digest = _sha256(path)
        with self._local, _held(self.db):
            earlier = self.tables.received(digest)
            if earlier:
                return {"submission_id": earlier, "status": "duplicate", "duplicate_of": earlier}
            self.tables.load_index(self.index)
            self.changes = self.tables.apply_changes(self.index, self.changes)
            submission_id = str(uuid.uuid4())
            received = {
                "submission_id": submission_id,
                "sha256": digest,
                "filename": filename[:200] or "submission",
                "size": path.stat().st_size,
                "channel": channel,
            }
            intake = Intake(sink, self.reference, self.index, self.tables, progress=progress)
            outcome: Outcome = intake.ingest(
                lambda: path.open("rb"), submission_id, received, received_at, read
            )
            self.tables.save_errors(submission_id, outcome.errors)
            if outcome.status == "accepted":
                self.tables.claim(digest, submission_id)
        return {
            "submission_id": submission_id,
            "status": outcome.status,
            "counts": outcome.counts,
            "error_count": len(outcome.errors),
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class _held:
    """The deployment-wide intake lock, waited for (a file takes seconds, not hours)."""

    def __init__(self, db: Database):
        self.lock = Leadership(db, LOCK)

    def __enter__(self) -> None:
        while not self.lock.try_acquire():
            time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        self.lock.release()


def spooled(content: bytes) -> Path:
    """``content`` in a private temporary file (the intake reads a file twice)."""
    with tempfile.NamedTemporaryFile(prefix="submission-", suffix=".asap", delete=False) as handle:
        handle.write(content)
    return Path(handle.name)


def discard(path: Path) -> None:
    path.unlink(missing_ok=True)
