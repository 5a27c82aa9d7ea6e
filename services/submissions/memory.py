"""What the submissions service keeps beside its events: files received (so a file its
sender sends again is not counted twice), how far each file's intake got (so a file that
stopped part-way is continued, not taken again), the dispensation each key names, the
patients the index has learnt (to rebuild it at start), the administrators' changes to the
index (merges and splits, written by the ``patient_matches`` projection), and each
submission's error report.

These are operational tables of the service's own database, written with the events of
each chunk in one transaction (``ledger.py``). The events stay the record of what was
received and recorded.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import date
from typing import Any

import sqlalchemy as sa

from pmp.db import Database, UtcDateTime
from services.submissions import error_report
from services.submissions.intake import RUNNING, Progress
from services.submissions.matching import written_surname
from services.submissions.patients import Patient, PatientIndex

ERROR_REPORT_COLUMNS = error_report.KEYS  # each error, in order

metadata = sa.MetaData()

# A file by its receipt (``receipt``: its sender's and its SHA-256's); rows written before
# receipts named senders hold the bare SHA-256.
received_files = sa.Table(
    "received_files",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("submission_id", sa.Uuid, nullable=False),
)

# One row per submission from its first event: where its intake got (``intake.Progress``).
# A file received before these rows existed has none and counts as finished.
intake_runs = sa.Table(
    "intake_runs",
    metadata,
    sa.Column("submission_id", sa.Uuid, primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("state", sa.String(12), nullable=False, index=True),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("done", sa.Integer, nullable=False),
    sa.Column("counts", sa.JSON, nullable=False),
    sa.Column("zero_report", sa.Boolean, nullable=False),
    sa.Column("errors", sa.Integer, nullable=False),
    sa.Column("sender", sa.String(64)),  # the account that sent it; None: sent before kept
)

dispensation_keys = sa.Table(
    "dispensation_keys",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("dispensation_id", sa.String(36), nullable=False),  # as text: no conversions
)

patient_records = sa.Table(
    "patient_records",
    metadata,
    sa.Column("n", sa.Integer, primary_key=True, autoincrement=False),  # index's number
    sa.Column("person_id", sa.Uuid, nullable=False, index=True),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("last_name", sa.String(100), nullable=False),
    sa.Column("middle_name", sa.String(100), nullable=False),
    sa.Column("dob", sa.Date),
    sa.Column("gender", sa.String(1), nullable=False),
    sa.Column("address", sa.String(200), nullable=False),
    sa.Column("city", sa.String(100), nullable=False),
    sa.Column("state", sa.String(2), nullable=False),
    sa.Column("zip", sa.String(10), nullable=False),
)

index_changes = sa.Table(
    "patient_index_changes",
    metadata,
    sa.Column("n", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(10), nullable=False),  # "merge" or "move"
    sa.Column("person_id", sa.Uuid, nullable=False),  # merge: kept; move: the new person
    sa.Column("merged_person_id", sa.Uuid),  # merge only
    sa.Column("record", sa.Integer),  # move only
)

error_reports = sa.Table(
    "error_reports",
    metadata,
    sa.Column("submission_id", sa.Uuid, primary_key=True),
    sa.Column("n", sa.Integer, primary_key=True),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("segment", sa.String(10), nullable=False),
    sa.Column("field", sa.String(10), nullable=False),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("message", sa.String(500), nullable=False),
    # Added for issue 24 (``Database.create`` adds them to an older store): NULL in the
    # lines stored before. A bulk file may be larger than 2 GB.
    sa.Column("segment_number", sa.Integer),
    sa.Column("byte_offset", sa.BigInteger),
    # "note" for a name read as Latin-1; NULL (older lines) and "error" are errors. Notes are
    # numbered -1, -2, ... so the errors' numbers stay those the progress counts.
    sa.Column("severity", sa.String(5)),
)


class IntakeTables:
    """The intake's memory (``intake.IntakeMemory``) and the error reports, in ``db``."""

    def __init__(self, db: Database):
        self.db = db

    def find(self, key: str) -> str | None:
        with self.db.read() as conn:
            found = conn.scalar(
                sa.select(dispensation_keys.c.dispensation_id).where(dispensation_keys.c.key == key)
            )
        return str(found) if found else None

    def find_many(self, keys: Sequence[str]) -> dict[str, str]:
        """The keys already recorded among ``keys``, with their dispensations. Plain driver
        SQL: building a 1,000-value IN clause through SQLAlchemy cost more than running it."""
        if not keys:
            return {}
        with self.db.read() as conn:
            marks = ", ".join([_mark(conn)] * len(keys))
            rows = conn.exec_driver_sql(
                f"SELECT key, dispensation_id FROM dispensation_keys WHERE key IN ({marks})",
                tuple(keys),
            ).all()
        return dict(rows)

    @staticmethod
    def remember_in(
        conn: sa.Connection,
        keys: Sequence[tuple[str, str]],
        patients: Iterable[tuple[int, Patient, uuid.UUID]],
    ) -> None:
        """Store the keys and patients of a chunk, in the chunk's transaction."""
        patient_rows = [_patient_row(n, p, person) for n, p, person in patients]
        if keys:
            mark = _mark(conn)
            conn.exec_driver_sql(
                f"INSERT INTO dispensation_keys (key, dispensation_id) VALUES ({mark}, {mark})",
                list(keys),
            )
        if patient_rows:
            conn.execute(patient_records.insert(), patient_rows)

    def received(self, sha256: str, sender: str | None) -> tuple[str, Progress | None] | None:
        """The submission in which ``sender`` already sent this file, if any, and how far
        its intake got (None: a file received before progress was kept, finished). Another
        account's identical file is not this sender's: it is a submission of its own."""
        keys = [receipt(sender, sha256), sha256]  # the bare digest: rows from before senders
        with self.db.read() as conn:
            found = conn.scalar(
                sa.select(received_files.c.submission_id)
                .where(received_files.c.sha256.in_(keys))
                .order_by(received_files.c.sha256 == sha256)  # this sender's receipt first
                .limit(1)
            )
            if found is None:
                return None
            row = conn.execute(
                sa.select(intake_runs).where(intake_runs.c.submission_id == found)
            ).first()
        return str(found), _progress(row) if row else None

    def progress(self, submission_id: str) -> Progress | None:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(intake_runs).where(
                    intake_runs.c.submission_id == uuid.UUID(submission_id)
                )
            ).first()
        return _progress(row) if row else None

    def running(self) -> list[Progress]:
        """Submissions whose intake has not ended: live, or dead if nobody holds the lock."""
        with self.db.read() as conn:
            rows = conn.execute(sa.select(intake_runs).where(intake_runs.c.state.in_(RUNNING)))
            return [_progress(row) for row in rows]

    @staticmethod
    def save_progress_in(conn: sa.Connection, progress: Progress) -> None:
        """Where the submission's intake got; a new submission claims its file, a rejected
        one gives it back (the same file may be sent again, to be rejected again)."""
        submission_id = uuid.UUID(progress.submission_id)
        key = receipt(progress.sender, progress.sha256)
        values = {
            "state": progress.state,
            "done": progress.done,
            "counts": progress.counts,
            "zero_report": progress.zero_report,
            "errors": progress.errors,
        }
        updated = conn.execute(
            intake_runs.update().where(intake_runs.c.submission_id == submission_id), values
        ).rowcount
        if not updated:
            conn.execute(
                intake_runs.insert(),
                {
                    **values,
                    "submission_id": submission_id,
                    "sha256": progress.sha256,
                    "received_at": progress.received_at,
                    "sender": progress.sender,
                },
            )
            conn.execute(received_files.insert(), {"sha256": key, "submission_id": submission_id})
        if progress.state == "rejected":
            conn.execute(received_files.delete().where(received_files.c.sha256 == key))

    @staticmethod
    def save_errors_in(
        conn: sa.Connection, submission_id: str, first: int, errors: list[dict[str, Any]]
    ) -> None:
        """Error report lines ``first``, ``first + 1``, ... of the submission."""
        rows = [
            {
                "submission_id": uuid.UUID(submission_id),
                "n": n,
                "segment_number": e["segment_number"],
                "line": e["line"],
                "byte_offset": e["byte_offset"],
                "segment": e["segment"][:10],
                "field": e["field"][:10],
                "value": e["value"][:200],
                "message": e["message"][:500],
                "severity": e.get("severity", error_report.ERROR),
            }
            for n, e in enumerate(errors, start=first)
        ]
        if rows:
            conn.execute(error_reports.insert(), rows)

    @classmethod
    def save_notes_in(cls, conn: sa.Connection, submission_id: str, notes: list[dict]) -> None:
        """The submission's notes, in place of any stored by an earlier run of it."""
        key = uuid.UUID(submission_id)
        table = error_reports.c
        conn.execute(error_reports.delete().where(table.submission_id == key, table.n < 0))
        cls.save_errors_in(conn, submission_id, -len(notes), notes)

    def errors(self, submission_id: str) -> list[dict[str, Any]]:
        """The report in the file's order (a batch's checks find their errors late): by
        segment, which tells apart the errors of a file on one line."""
        table = error_reports.c
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(error_reports)
                .where(table.submission_id == uuid.UUID(submission_id))
                .order_by(table.line, table.segment_number, table.n)
            ).all()
        return [
            {k: getattr(row, k) for k in ERROR_REPORT_COLUMNS} | {"severity": _severity(row)}
            for row in rows
        ]

    def load_index(self, index: PatientIndex) -> None:
        """Add to ``index`` the patients learnt since it was loaded (by this process or
        another), in the order they were learnt."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(patient_records)
                .where(patient_records.c.n >= len(index))
                .order_by(patient_records.c.n)
            )
            for row in rows:
                if row.n != len(index):
                    raise RuntimeError(f"patient record {len(index)} is missing")
                index.add(_patient(row), row.person_id)

    def apply_changes(self, index: PatientIndex, after: int = 0) -> int:
        """Apply to ``index`` the administrators' merges and splits made after change
        ``after``; return the last change applied (each applies twice harmlessly)."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(index_changes)
                .where(index_changes.c.n > after)
                .order_by(index_changes.c.n)
            ).all()
        for row in rows:
            if row.kind == "merge":
                index.merge(row.person_id, row.merged_person_id)
            elif row.record < len(index):
                index.move(row.record, row.person_id)
            after = row.n
        return after


def _mark(conn: sa.Connection) -> str:
    """The driver's positional parameter mark: ``?`` (sqlite3) or ``%s`` (psycopg)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _patient_row(n: int, p: Patient, person_id: uuid.UUID) -> dict[str, Any]:
    return {
        "n": n,
        "person_id": person_id,
        "first_name": p.first_name[:100],
        "last_name": written_surname(p.last_name, p.suffix)[:100],  # "Smith JR": no column
        "middle_name": p.middle_name[:100],
        "dob": p.dob if isinstance(p.dob, date) else None,
        "gender": (p.gender or "")[:1],
        "address": p.address[:200],
        "city": p.city[:100],
        "state": p.state[:2],
        "zip": p.zip[:10],
    }


def _patient(row: Any) -> Patient:
    return Patient(**{name: getattr(row, name) for name in _PATIENT_COLUMNS})


_PATIENT_COLUMNS = tuple(f.name for f in fields(Patient) if f.name != "suffix")  # in last_name


def receipt(sender: str | None, sha256: str) -> str:
    """A file's key among the files received: one per sender and content, so a pharmacy's
    resend is recognised and another account's identical bytes are not. A submission from
    before senders were kept (``sender`` None) keeps the bare SHA-256 it was stored under."""
    if sender is None:
        return sha256
    return hashlib.sha256(f"{sender}\n{sha256}".encode()).hexdigest()


def _progress(row: Any) -> Progress:
    return Progress(
        submission_id=str(row.submission_id),
        sha256=row.sha256,
        sender=row.sender,
        received_at=row.received_at,
        state=row.state,
        done=row.done,
        counts=dict(row.counts),
        zero_report=row.zero_report,
        errors=row.errors,
    )


def _severity(row: sa.Row) -> str:
    return row.severity or error_report.ERROR  # lines stored before severities were kept
