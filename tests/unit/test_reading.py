"""Reading a file in a worker process gives exactly what reading it in place gives."""

from __future__ import annotations

import io

import pytest

from services.submissions import error_report
from services.submissions.asap import AsapError
from services.submissions.intake import uuid4_texts
from services.submissions.reading import (
    ZERO,
    Dispensation,
    Rejected,
    problem,
    read_in_worker,
    read_inline,
)
from tests.helpers.asap import RECEIVED_AT, build, fields, pha, record


def opener(content: bytes):
    return lambda: io.BytesIO(content)


def read_all(read, content: bytes):
    with read(opener(content), RECEIVED_AT) as reading:
        items = list(reading.items()) if reading.structure.ok else []
        return reading.structure, items


MIXED = build(
    [
        (pha(), record(1) + record(2, dsp={8: "12345"}) + record(3, dsp={1: "01"})),
        (pha({2: "7654321"}), record(4) + record(5)),
    ]
)


def test_the_worker_reads_what_the_service_reads():
    inline, worker = read_all(read_inline, MIXED), read_all(read_in_worker, MIXED)
    assert worker == inline
    structure, items = inline
    assert structure.ok and structure.version == "4.2"
    kinds = [type(item).__name__ for item in items]
    assert kinds == ["Dispensation", "Rejected", "Dispensation", "Dispensation", "Dispensation"]
    first = items[0]
    assert isinstance(first, Dispensation) and first.status == "new"
    assert (first.line, first.segment_number) == (1, 5)  # its DSP: after TH, IS, PHA, PAT
    assert first.dispensation["date_filled"] == "2024-01-03"  # JSON-ready text
    assert items[2].status == "revise"
    assert items[3].pharmacy is items[4].pharmacy  # one dict per pharmacy block
    assert items[0].pharmacy != items[3].pharmacy
    [error] = items[1].errors
    assert isinstance(items[1], Rejected) and error["field"] == "DSP08"
    assert (error["line"], error["segment_number"]) == (1, 8)


def test_a_structural_error_is_read_alike_and_no_record_is_read():
    broken = build([(pha(), record(1))], tt_delta=2)
    inline, worker = read_all(read_inline, broken), read_all(read_in_worker, broken)
    assert worker == inline
    structure, items = worker
    assert not structure.ok and structure.error_count >= 1 and items == []
    assert structure.errors[0]["segment"] == "TT"


def test_a_refused_file_reports_its_records_errors_with_its_structural_ones():
    broken = build([(pha(), record(1, dsp={8: "12345"}) + record(2))], tt_delta=2)
    inline, worker = read_all(read_inline, broken), read_all(read_in_worker, broken)
    assert worker == inline
    structure, items = worker
    assert not structure.ok and items == []
    assert [(e["segment"], e["field"]) for e in structure.errors] == [
        ("DSP", "DSP08"),
        ("TT", "TT02"),
    ]
    assert structure.error_count == 2


def test_a_zero_report_is_read():
    zero_pat = fields("PAT", 23, {7: "Report", 8: "Zero"}, None)
    zero = build([(pha(), [zero_pat, fields("DSP", 21, {5: "20240107"}, None), ["PRE"]])])
    assert read_all(read_in_worker, zero)[1] == read_all(read_inline, zero)[1] == [ZERO]


def test_a_failure_in_the_worker_is_raised_with_its_cause():
    def unreadable():
        raise PermissionError("no access to the file")

    with (
        pytest.raises(RuntimeError, match="PermissionError: no"),
        read_in_worker(unreadable, RECEIVED_AT),
    ):
        pass


def test_record_ids_are_random_version_4_uuids():
    import uuid

    made = uuid4_texts()
    ids = [next(made) for _ in range(3000)]  # across the 1,024-id refills
    assert len(set(ids)) == 3000
    assert all(str(uuid.UUID(i)) == i and uuid.UUID(i).version == 4 for i in ids)


def test_the_worker_forgets_numbered_dicts_between_records_never_within_one(monkeypatch):
    """Past ``SHARED`` distinct dicts the worker starts its numbering again; a record must
    never mix numbers from before and after (it once named a patient as the pharmacy)."""
    monkeypatch.setattr("services.submissions.reading.SHARED", 2)  # forgets every few records
    patients = [{7: f"SURNAME{n:03d}", 8: "ANN", 18: f"1970{1 + n % 12:02d}15"}
                for n in range(12)]  # fmt: skip
    records = [segment for n, p in enumerate(patients, 1) for segment in record(n, pat=p)]
    content = build([(pha(), records)])
    inline, worker = read_all(read_inline, content), read_all(read_in_worker, content)
    assert worker == inline
    assert [item.patient["last_name"] for item in worker[1]] == [
        f"SURNAME{n:03d}" for n in range(12)
    ]
    assert all(item.pharmacy == inline[1][0].pharmacy for item in worker[1])


def test_an_error_report_line_says_where_the_error_is_in_the_file():
    """The segment's place in the file and the byte it starts at, beside its line: in a file
    without line breaks every error is on line 1."""
    error = AsapError(
        line=1, segment_number=8, segment="DSP", field="DSP08", value="12345",
        message="Give an 11-digit NDC.", byte_offset=412,
    )  # fmt: skip
    assert problem(error) == {
        "segment_number": 8,
        "line": 1,
        "byte_offset": 412,
        "segment": "DSP",
        "field": "DSP08",
        "value": "12345",
        "message": "Give an 11-digit NDC.",
        "severity": "error",
    }
    assert list(problem(error)) == list(error_report.KEYS)  # the report's column order
