"""A pharmacy's file gets one complete error report (issue 24): the reader goes on after a
structural error, places every error by segment ordinal and byte offset, reads Latin-1 names
and says when it stopped listing."""

from __future__ import annotations

import io
import re

import pytest

from services.submissions import asap
from services.submissions.asap import (
    MAX_ERRORS,
    FileRejected,
    Record,
    RecordRejected,
    check_structure,
    read_records,
)
from tests.helpers.asap import RECEIVED_AT, build, dsp, pha, pre, record

#: 16 bytes is the smallest chunk the reader takes: characters and segments cross chunks.
CHUNKS = [1 << 20, 16, 37]


def structure(data: bytes, chunk: int = 1 << 20):
    return check_structure(io.BytesIO(data), chunk_size=chunk)


def items(data: bytes, chunk: int = 1 << 20) -> list:
    return list(read_records(io.BytesIO(data), RECEIVED_AT, chunk_size=chunk))


def full_report(data: bytes, chunk: int = 1 << 20):
    return asap.error_report(io.BytesIO(data), RECEIVED_AT, chunk_size=chunk)


def starts(data: bytes) -> list[int]:
    """The byte offset of each segment of a one-line file written with * and ~."""
    found, at = [0], data.index(b"~~") + 2  # TH ends with TH09 and its terminator
    while at < len(data):
        found.append(at)
        at = data.index(b"~", at) + 1
    return found


def where(errors) -> list[tuple]:
    return [(e.segment, e.field) for e in errors]


def test_a_repeated_is_and_a_wrong_tt02_are_both_reported():
    data = build()
    second_is = data.index(b"IS*")
    end_of_is = data.index(b"~", second_is) + 1
    data = data[:end_of_is] + data[second_is:end_of_is] + data[end_of_is:]  # TT02 not told
    report = structure(data)
    assert not report.ok
    assert where(report.errors) == [("IS", None), ("TT", "TT02")]
    assert "once" in report.errors[0].message and "(12)" in report.errors[1].message
    with pytest.raises(FileRejected) as rejected:
        items(data)
    assert where(rejected.value.errors) == where(report.errors)


def test_an_unknown_version_is_checked_as_the_newest_and_every_error_is_found_at_once():
    blocks = [(pha(), record(1, dsp={5: "00000000"}))]
    data = build(blocks, version="4.9").replace(b"*20240105*", b"*00000000*")
    data = data.replace(b"~TP*5~", b"~TP*0~")
    report = structure(data)
    assert where(report.errors) == [("TH", "TH01"), ("TH", "TH05"), ("TP", "TP01")]
    assert "checked as 4.2B" in report.errors[0].message
    complete = full_report(data)
    assert not complete.ok
    assert where(complete.errors) == [
        ("TH", "TH01"),
        ("TH", "TH05"),
        ("DSP", "DSP05"),
        ("TP", "TP01"),
    ]
    assert complete.error_count == 4


@pytest.mark.parametrize("chunk", CHUNKS)
def test_a_file_cut_inside_a_dsp_names_the_cut_segment(chunk):
    data = build()
    second_dsp = data.index(b"~DSP*", data.index(b"~DSP*") + 1) + 1
    cut = data[: second_dsp + 12]
    report = structure(cut, chunk)
    (error,) = report.errors
    assert (error.segment, error.line, error.segment_number) == ("DSP", 1, 8)
    assert error.byte_offset == second_dsp
    assert "ends" in error.message and "TP and TT" in error.message
    assert f"at byte {second_dsp}" in str(error)
    with pytest.raises(FileRejected):
        items(cut, chunk)


def test_a_file_that_ends_after_a_whole_segment_names_that_segment():
    data = build()
    cut = data[: data.rindex(b"TP*")]  # TP and TT missing; the last PRE is whole
    (error,) = structure(cut).errors
    assert (error.segment, error.segment_number, error.byte_offset) == ("PRE", 9, starts(cut)[8])
    assert "TP and TT" in error.message


def _one_line_file_with_errors() -> bytes:
    body = (
        record(1, pat={7: "MÜLLER"})
        + record(2, dsp={8: "123"})
        + record(3, pat={7: "MUNOZ"}, pre={1: "12345"})
        + record(4, pat={18: "19801345"})
    )
    return build([(pha(), body)]).replace(b"MUNOZ", b"MU\xd1OZ")


@pytest.mark.parametrize("chunk", CHUNKS)
def test_errors_in_a_one_line_file_have_distinct_ordinals_and_exact_byte_offsets(chunk):
    data = _one_line_file_with_errors()
    segment_at = starts(data)
    out = items(data, chunk)
    assert [type(i) for i in out] == [Record, RecordRejected, RecordRejected, RecordRejected]
    errors = [e for i in out[1:] for e in i.errors]
    assert where(errors) == [("DSP", "DSP08"), ("PRE", "PRE01"), ("PAT", "PAT18")]
    assert [e.line for e in errors] == [1, 1, 1]
    assert [e.segment_number for e in errors] == [8, 12, 13]
    for e in errors:
        assert e.byte_offset == segment_at[e.segment_number - 1]
        assert data[e.byte_offset :].startswith(e.segment.encode() + b"*")
        assert e.as_dict()["byte_offset"] == e.byte_offset


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize("eol", ["\n", "\r\n"])
@pytest.mark.parametrize("name", [b"MUNOZ", "MUÑOZ".encode(), b"MU\xd1OZ"])
def test_errors_in_a_file_of_a_segment_a_line_have_exact_lines_and_byte_offsets(name, eol, chunk):
    data = _one_line_file_with_errors().replace(b"MU\xd1OZ", name)
    data = data.replace(b"~", b"~" + eol.encode()).replace(b"~~" + eol.encode(), b"~~")
    stray = data.index(b"PAT*", data.index(b"PAT*") + 1)
    data = data[:stray] + b" \t\n" + data[stray:]  # stray blanks before one segment
    segment_at = [0] + [m.start(1) for m in re.finditer(rb"~[ \t\r\n]*([A-Z]{2,3})\*", data)]
    out = items(data, chunk)
    errors = [e for i in out[1:] for e in i.errors]
    notes = structure(data, chunk).notes
    assert where(errors) == [("DSP", "DSP08"), ("PRE", "PRE01"), ("PAT", "PAT18")]
    assert where(notes) == ([("PAT", "PAT07")] if name == b"MU\xd1OZ" else [])
    for e in errors + notes:
        assert e.byte_offset == segment_at[e.segment_number - 1]
        assert e.line == 1 + data.count(b"\n", 0, e.byte_offset)


@pytest.mark.parametrize("chunk", CHUNKS)
def test_structural_errors_of_a_one_line_file_carry_ordinal_and_byte_offset(chunk):
    data = build([(pha(), record(1, pat={7: "MÜLLER"}) + record(2))], tp_delta=1, tt01="77")
    report = structure(data, chunk)
    assert where(report.errors) == [("TP", "TP01"), ("TT", "TT01")]
    assert [e.segment_number for e in report.errors] == [10, 11]
    assert [e.byte_offset for e in report.errors] == starts(data)[9:11]


@pytest.mark.parametrize("chunk", CHUNKS)
def test_a_latin_1_name_is_read_as_latin_1_kept_and_noted(chunk):
    data = _one_line_file_with_errors()
    assert b"MU\xd1OZ" in data
    report = structure(data, chunk)
    assert report.ok
    (note,) = report.notes
    assert (note.segment, note.field, note.value) == ("PAT", "PAT07", "MUÑOZ")
    assert note.byte_offset == starts(data)[9] and note.segment_number == 10
    assert "Latin-1" in note.message and "MU" not in str(note)
    out = items(data, chunk)
    assert out[0].patient["last_name"] == "MÜLLER"  # UTF-8 beside it is read as UTF-8
    [pre_error] = out[2].errors  # the record is refused for its prescriber, not its name
    assert pre_error.field == "PRE01"
    latin = build([(pha(), record(1, pat={7: "MUNOZ"}))]).replace(b"MUNOZ", b"MU\xd1OZ")
    (kept,) = items(latin, chunk)
    assert isinstance(kept, Record) and kept.patient["last_name"] == "MUÑOZ"


def test_the_report_lists_the_first_thousand_errors_and_says_how_many_more():
    assert MAX_ERRORS == 1000
    body = [*record(1), *(["XYZ", str(n)] for n in range(1200))]
    report = structure(build([(pha(), body)]))
    assert report.error_count == 1200
    assert len(report.errors) == MAX_ERRORS + 1
    last = report.errors[-1]
    assert "200 more errors" in last.message and "1,000" in last.message
    first_unlisted = report.errors[MAX_ERRORS - 1].segment_number + 1
    assert last.segment_number == first_unlisted


def test_a_refused_file_report_lists_its_record_errors_too_up_to_the_cap():
    body = [seg for n in range(1100) for seg in (record(n, dsp={8: "123"}))]
    data = build([(pha(), body)], tt_delta=1)
    complete = full_report(data)
    assert not complete.ok and complete.error_count == 1101
    assert where(complete.errors[:2]) == [("DSP", "DSP08")] * 2
    assert "101 more errors" in complete.errors[-1].message


def test_a_sound_file_report_lists_its_record_errors_and_is_ok():
    body = [*record(1, dsp={8: "123"}), *record(2), dsp({2: "RX9"}), pre({1: "", 2: ""})]
    complete = full_report(build([(pha(), record(0) + body)]))
    assert complete.ok and where(complete.errors) == [("DSP", "DSP08"), ("PRE", "PRE02")]


def test_the_complete_report_is_in_file_order():
    body = [*record(1, dsp={8: "123"})[:2], ["XYZ", "1"], pre(), *record(2)]
    complete = full_report(build([(pha(), body)]))
    assert where(complete.errors) == [("DSP", "DSP08"), ("?", None)]
    assert [e.segment_number for e in complete.errors] == [5, 6]
