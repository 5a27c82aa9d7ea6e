"""A test file (ASAP TH07 = T) is checked as a production file would be and answered with its
whole report, and leaves nothing behind: no dispensation event, no patient in the index, no
key remembered (issue 24), on SQLite and PostgreSQL. Before, it was recorded as real data."""

from __future__ import annotations

import contextlib
from pathlib import Path

import sqlalchemy as sa

from pmp.eventstore import events
from services.submissions.cli import BulkLoad
from tests.contract.test_intake_recovery import DatabaseRefuses
from tests.helpers.asap import build, pha, record

BAD_NDC = "12345"  # an NDC has 11 digits


def write(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


def left_behind(load: BulkLoad) -> tuple[list[str], int, int]:
    """Every event type in the store, the keys remembered and the patients in the index."""
    with load.db.read() as conn:
        kinds = conn.scalars(sa.select(events.c.type).order_by(events.c.batch, events.c.n)).all()
        keys = conn.scalar(sa.text("SELECT count(*) FROM dispensation_keys"))
        patients = conn.scalar(sa.text("SELECT count(*) FROM patient_records"))
    return list(kinds), keys, patients


def test_a_test_file_is_answered_with_its_report_and_records_nothing(load, tmp_path) -> None:
    body = record(1) + record(2, dsp={8: BAD_NDC}) + record(3)
    test = write(tmp_path, "test.dat", build([(pha(), body)], file_type="T"))

    outcome = load.ingest(test)
    assert (outcome["status"], outcome["test_file"]) == ("tested", True), outcome
    assert (outcome["counts"]["recorded"], outcome["counts"]["rejected"]) == (2, 1)
    assert outcome["summary"] == (
        "test file: 2 records would have been accepted, 1 refused; nothing was recorded"
    )
    (error,) = load.error_report(outcome["submission_id"])
    assert (error["field"], error["value"]) == ("DSP08", BAD_NDC)
    assert left_behind(load) == (["SubmissionReceived", "SubmissionTested"], 0, 0)

    again = load.ingest(test)  # the same bytes: the report given then still stands
    assert (again["status"], again["duplicate_of"]) == ("duplicate", outcome["submission_id"])
    assert again["test_file"] is True

    production = write(tmp_path, "production.dat", build([(pha(), body)]))
    recorded = load.ingest(production)
    assert recorded["status"] == "accepted" and not recorded["test_file"]
    assert (recorded["counts"]["recorded"], recorded["error_count"]) == (2, 1), "new records"
    kinds, keys, patients = left_behind(load)
    assert (kinds.count("DispensationsRecorded"), keys, patients) == (1, 2, 1)


def test_a_test_file_stopped_part_way_says_so_and_the_resend_finishes_its_report(
    load, tmp_path
) -> None:
    """The database fails while the report is being stored: the submission is interrupted,
    marked a test file, nothing recorded; the same file again finishes the report, once."""
    count = 12_000  # error lines are stored every 5,000 records: three times
    body = [s for n in range(count) for s in record(n, dsp={8: BAD_NDC} if n % 1000 == 7 else {})]
    test = write(tmp_path, "big-test.dat", build([(pha(), body)], eol="\n", file_type="T"))
    refusing = DatabaseRefuses(load.db.engine, "INSERT INTO error_reports", nth=2)
    with contextlib.suppress(Exception):
        stopped = load.ingest(test)
    refusing.stop()
    assert (stopped["status"], stopped["test_file"]) == ("interrupted", True), stopped
    taken = stopped["counts"]["records"]
    assert 5_000 <= taken < 10_000, "the first report lines were stored, the next were not"
    assert left_behind(load) == (
        ["SubmissionReceived", "SubmissionInterrupted"], 0, 0
    )  # fmt: skip

    finished = load.ingest(test)
    assert finished["status"] == "tested" and finished["continued"] == taken, finished
    assert finished["submission_id"] == stopped["submission_id"]
    assert (finished["counts"]["recorded"], finished["counts"]["rejected"]) == (11_988, 12)
    lines = [e["line"] for e in load.error_report(finished["submission_id"])]
    assert len(lines) == len(set(lines)) == 12, "each error reported once"
    kinds, keys, patients = left_behind(load)
    assert (kinds[-2:], keys, patients) == (["SubmissionResumed", "SubmissionTested"], 0, 0)
