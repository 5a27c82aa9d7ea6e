"""The stored error report names each error's segment and byte offset, and a store made by
an earlier version (its error table without those columns) keeps working on both backends:
its reports read as before, and new errors are stored whole."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from services.submissions import memory
from services.submissions.memory import IntakeTables

old = sa.MetaData()
old_error_reports = sa.Table(  # the table as the versions before issue 24 made it
    "error_reports",
    old,
    sa.Column("submission_id", sa.Uuid, primary_key=True),
    sa.Column("n", sa.Integer, primary_key=True),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("segment", sa.String(10), nullable=False),
    sa.Column("field", sa.String(10), nullable=False),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("message", sa.String(500), nullable=False),
)
OLD_LINE = {"line": 3, "segment": "DSP", "field": "DSP08", "value": "12345", "message": "NDC"}


def error(segment_number: int, byte_offset: int, **given) -> dict:
    return {
        "segment_number": segment_number,
        "line": 1,
        "byte_offset": byte_offset,
        "segment": "DSP",
        "field": "DSP08",
        "value": "12345",
        "message": "Give an 11-digit NDC.",
        "severity": "error",
        **given,
    }


def test_errors_come_back_in_the_files_order_with_segment_line_and_byte(database) -> None:
    database.create(memory.metadata)
    tables, submission = IntakeTables(database), str(uuid.uuid4())
    far = 3_000_000_000  # a bulk file may be larger than 2 GB
    given = [error(8, 212), error(14, far, field="DSP02"), error(10, 380, segment="PAT")]
    with database.write() as conn:
        tables.save_errors_in(conn, submission, 0, given)
    report = tables.errors(submission)
    assert report == [given[0], given[2], given[1]]  # by segment: a batch's errors come late
    assert list(report[0]) == list(memory.ERROR_REPORT_COLUMNS)


def test_a_store_made_before_segments_were_reported_gains_the_columns(database) -> None:
    database.create(old)
    earlier = uuid.uuid4()
    with database.write() as conn:
        conn.execute(old_error_reports.insert(), {"submission_id": earlier, "n": 0, **OLD_LINE})

    database.create(memory.metadata)  # as the service and pmp ingest do at start
    database.create(memory.metadata)  # and again: a second start changes nothing
    tables, submission = IntakeTables(database), str(uuid.uuid4())
    assert tables.errors(str(earlier)) == [
        {"segment_number": None, "byte_offset": None, **OLD_LINE, "severity": "error"}
    ]  # not known for errors stored before, every one an error
    with database.write() as conn:
        tables.save_errors_in(conn, submission, 0, [error(8, 212)])
    assert tables.errors(submission) == [error(8, 212)]


def test_notes_are_kept_beside_the_errors_and_replaced_when_the_file_is_run_again(
    database,
) -> None:
    """A name read as Latin-1 is a note of the report, in the file's order among the errors;
    a resumed intake stores the file's notes again in place of the first run's."""
    database.create(memory.metadata)
    tables, submission = IntakeTables(database), str(uuid.uuid4())
    note = error(4, 90, segment="PAT", field="PAT07", value="MUÑOZ", severity="note")
    with database.write() as conn:
        tables.save_notes_in(conn, submission, [note])
        tables.save_errors_in(conn, submission, 0, [error(8, 212)])
    with database.write() as conn:  # the intake resumed: the same notes, once
        tables.save_notes_in(conn, submission, [note])
    assert tables.errors(submission) == [note, error(8, 212)]
