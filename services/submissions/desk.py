"""The submissions desk: one intake at a time for the whole deployment, and every file's
submission brought to an outcome.

The patient index lives in memory, so two intakes running at once (two replicas, or the
service and ``pmp ingest``) could each make a new person for the same patient. The desk
takes a lock shared by every process on the service's database before each file, and first
brings its index up to date with the patients other processes have learnt since and the
administrators' merges and splits.

Whoever holds the lock is the only intake running, so a submission still marked running
then belongs to an intake that died (a killed process, a failed database): the desk gives
it its outcome, interrupted, with what it stored (``sweep`` does the same at service start
and on a timer). The same file sent again continues that submission where it stopped.

A test file (TH07 ``T``) is a submission like any other: received, given an outcome
(``tested``, with its report) and recognised when its bytes come again (a duplicate: its
report stands, and nothing was recorded that a second check could change but later files).
A production file with the same records differs in TH07, so it is a file of its own.
"""

from __future__ import annotations

import contextlib
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

import sqlalchemy as sa

from pmp.db import Database
from pmp.leader import Leadership
from pmp.logs import get_logger
from services.submissions.drugs import DrugReference, load_reference
from services.submissions.intake import RUNNING, Change, Intake, Outcome, Progress, test_summary
from services.submissions.ledger import Ledger, Recorder
from services.submissions.memory import IntakeTables
from services.submissions.patients import PatientIndex
from services.submissions.reading import OpenFile, Reading, read_inline

log = get_logger(__name__)

LOCK = "submissions.intake"


class Desk:
    def __init__(self, db: Database, reference: DrugReference | None = None):
        self.db = db
        self.tables = IntakeTables(db)
        self.reference = reference or load_reference()
        self.index = PatientIndex()
        self.changes = 0  # the last change to the index (merge, split) applied
        self._local = threading.Lock()
        self.stopped: dict[str, Any] | None = None  # the last intake that did not finish

    def ingest(
        self,
        path: Path,
        filename: str,
        channel: str,
        recorder: Recorder,
        received_at: datetime,
        progress: Callable[[int], None] | None = None,
        read: Callable[[OpenFile, datetime], AbstractContextManager[Reading]] = read_inline,
    ) -> dict[str, Any]:
        """Take the file at ``path``, received at ``received_at``: recognise a repeat, continue
        a submission of it that stopped part-way, else record it. Returns the submission's
        id, status (accepted, tested: a test file, checked and nothing recorded, rejected,
        duplicate, or interrupted: stopped by a failure, with what was stored and why),
        counts and the number of errors in its report, ``continued``: the records an earlier
        run had taken, and ``test_file``. ``read``: ``reading.read_in_worker`` reads the
        file in a second process (bulk loads)."""
        self.stopped = None
        digest = _sha256(path)
        sender = recorder.metadata().actor_id
        with self._local, _held(self.db):
            ledger = Ledger(self.tables, recorder)
            _interrupt_dead(self.tables, ledger)
            earlier = self.tables.received(digest, sender)
            if earlier and (earlier[1] is None or earlier[1].state != "interrupted"):
                return {
                    "submission_id": earlier[0],
                    "status": "duplicate",
                    "duplicate_of": earlier[0],
                    "test_file": earlier[1] is not None and earlier[1].test_file,
                }
            self.tables.load_index(self.index)
            self.changes = self.tables.apply_changes(self.index, self.changes)
            if earlier:
                start = earlier[1]
                first: Change = ("SubmissionResumed", {"records": start.counts["records"]})
            else:
                start = Progress(str(uuid.uuid4()), digest, received_at, sender=sender)
                first = ("SubmissionReceived", _received(start, filename, path, channel))
            intake = Intake(ledger, self.reference, self.index, progress=progress)
            try:
                outcome: Outcome = intake.ingest(lambda: path.open("rb"), start, first, read)
            except BaseException as exc:
                self.stopped = self._stopped(ledger, start, earlier is not None, exc)
                if not isinstance(exc, Exception):
                    raise
                return self.stopped
        return _result(
            outcome.submission_id,
            outcome.status,
            outcome.counts,
            outcome.error_count,
            start.counts["records"],
            outcome.test_file,
        )

    def _stopped(
        self, ledger: Ledger, start: Progress, resuming: bool, exc: BaseException
    ) -> dict[str, Any]:
        """The intake failed: forget what the index learnt (it may not be stored), give the
        submission its outcome if the database still takes it (else ``sweep`` will), and
        say what is stored."""
        self.index, self.changes = PatientIndex(), 0
        stored = self._last_stored(start) or ledger.stored or (start if resuming else None)
        cause = failure(exc)
        log.warning("intake stopped", submission_id=start.submission_id, cause=cause)
        if stored is not None and stored.state not in RUNNING:  # its outcome was stored
            return _result(
                stored.submission_id,
                stored.state,
                stored.counts,
                stored.errors,
                start.counts["records"],
                stored.test_file,
            )
        if stored is not None:
            with contextlib.suppress(Exception):
                ledger.interrupt(stored)
        return {
            "submission_id": stored.submission_id if stored else None,
            "status": "interrupted",
            "counts": stored.counts if stored else {},
            "error_count": stored.errors if stored else 0,
            "continued": start.counts["records"],
            "reason": cause,
            "test_file": stored is not None and stored.test_file,
        }

    def _last_stored(self, start: Progress) -> Progress | None:
        """The submission's progress as the database holds it: a chunk's commit can land
        after the ledger last heard (Ctrl-C between the commit and its return), and an
        outcome written from that stale view would undercount what is stored."""
        try:
            return self.tables.progress(start.submission_id)
        except Exception:  # the database failed: the ledger's view, and ``sweep`` later
            return None

    def standing(self, path: Path, sender: str | None) -> dict[str, Any] | None:
        """What the store holds of the file at ``path`` sent by ``sender``: its submission's
        state and counts, or None if it was never received (``pmp ingest`` asks after a
        Ctrl-C)."""
        found = self.tables.received(_sha256(path), sender)
        if found is None or found[1] is None:
            return None
        progress = found[1]
        return _result(
            found[0], progress.state, progress.counts, progress.errors, 0, progress.test_file
        )


def _result(
    submission_id: str,
    status: str,
    counts: dict[str, int],
    errors: int,
    continued: int = 0,
    test_file: bool = False,
) -> dict[str, Any]:
    """What ``Desk.ingest`` answers of a submission with an outcome: ``continued`` is the
    records an earlier run had taken; a tested file's ``summary`` says what it would have
    done."""
    result = {
        "submission_id": submission_id,
        "status": status,
        "counts": counts,
        "error_count": errors,
        "continued": continued,
        "test_file": test_file,
    }
    if status == "tested":
        result["summary"] = test_summary(counts)
    return result


def sweep(db: Database, recorder: Recorder) -> int:
    """Give every submission whose intake died its outcome (interrupted), if no intake is
    running; how many. Cheap when there is none: one small query."""
    tables = IntakeTables(db)
    if not tables.running():
        return 0
    lock = Leadership(db, LOCK)
    if not lock.try_acquire():
        return 0  # an intake is running; it does this when it starts its next file
    try:
        return _interrupt_dead(tables, Ledger(tables, recorder))
    finally:
        lock.release()


def _interrupt_dead(tables: IntakeTables, ledger: Ledger) -> int:
    """With the intake lock held: every submission still running has lost its intake."""
    dead = tables.running()
    for progress in dead:
        ledger.interrupt(progress)
        log.warning("submission interrupted", submission_id=progress.submission_id)
    return len(dead)


def _received(start: Progress, filename: str, path: Path, channel: str) -> dict[str, Any]:
    return {
        "submission_id": start.submission_id,
        "sha256": start.sha256,
        "filename": filename[:200] or "submission",
        "size": path.stat().st_size,
        "channel": channel,
    }


def failure(exc: BaseException) -> str:
    """What stopped an intake, in one line for a person: the database's own message, never
    the statement and its thousand parameters."""
    if isinstance(exc, KeyboardInterrupt):
        return "stopped by the operator (Ctrl-C)"
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        exc = exc.orig
    elif isinstance(exc, sa.exc.StatementError):
        return f"the database failed ({type(exc.orig or exc).__name__})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text[:300]


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
            with self.lock.db.read() as conn:  # a database that is gone fails here, not hangs
                conn.exec_driver_sql("SELECT 1")
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
