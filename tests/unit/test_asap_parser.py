"""The ASAP 4.2/4.2A/4.2B streaming parser: structure pass, record pass, errors, fuzzing."""

from __future__ import annotations

import io
import tracemalloc
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.submissions.asap import (
    MAX_ERRORS,
    AsapError,
    FileRejected,
    Record,
    RecordRejected,
    ZeroReport,
    check_structure,
    error_report,
    read_records,
)
from tests.helpers.asap import (
    PHARMACY_NPI,
    PRESCRIBER_DEA,
    PRESCRIBER_NPI,
    RECEIVED_AT,
    air,
    build,
    cdi,
    dsp,
    fields,
    pat,
    pha,
    pre,
    record,
)


def items(data: bytes, chunk_size: int = 1 << 20) -> list:
    return list(read_records(io.BytesIO(data), RECEIVED_AT, chunk_size=chunk_size))


def structure(data: bytes, chunk_size: int = 1 << 20):
    return check_structure(io.BytesIO(data), chunk_size=chunk_size)


def only_error(report) -> AsapError:
    assert not report.ok
    return report.errors[0]


# --------------------------------------------------------------------------- happy path


def test_valid_file_structure_and_records():
    data = build()
    rep = structure(data)
    assert rep.ok, rep.errors
    assert rep.version == "4.2"
    assert (rep.element_separator, rep.segment_terminator) == ("*", "~")
    assert rep.control_number == "1001"
    assert rep.creation_date == date(2024, 1, 5)
    assert rep.record_count == 2 and not rep.zero_report
    assert rep.segment_count == 11
    assert rep.pharmacies == [
        {
            "line": 1,
            "npi": PHARMACY_NPI,
            "ncpdp": "1234567",
            "dea": None,
            "name": "MAIN ST PHARMACY",
            "record_count": 2,
            "zero_report": False,
        }
    ]
    out = items(data)
    assert [type(i) for i in out] == [Record, Record]
    r = out[0]
    assert r.status == "new"
    assert r.patient["last_name"] == "DOE" and r.patient["first_name"] == "JANE"
    assert r.patient["birth_date"] == date(1980, 2, 15)
    assert r.patient["gender"] == "F" and r.patient["zip"] == "62701"
    assert r.patient["id_qualifier"] == "06" and r.patient["id"] == "D1234567"
    d = r.dispensation
    assert d["prescription_number"] == "RX1001"
    assert d["quantity"] == Decimal("30") and d["days_supply"] == 30
    assert d["date_filled"] == date(2024, 1, 3) and d["refill_number"] == 0
    assert d["ndc"] == "00409123401" and d["payment_type"] == "01"
    assert r.prescriber["npi"] == PRESCRIBER_NPI and r.prescriber["dea"] == PRESCRIBER_DEA
    assert r.pharmacy["ncpdp"] == "1234567" and r.pharmacy["state"] == "IL"
    assert r.key == ("ncpdp", "1234567", "RX1001", 0, date(2024, 1, 3))
    assert r.compounds == [] and r.additional is None
    assert out[1].dispensation["prescription_number"] == "RX1002"
    assert "DOE" not in repr(r)


SEPARATORS = [
    pytest.param("*", "~", "", False, id="star-tilde"),
    pytest.param("*", "~", "\n", False, id="tilde-newline"),
    pytest.param("*", "~", "\r\n", False, id="tilde-crlf"),
    pytest.param("|", "\n", "", False, id="pipe-newline"),
    pytest.param("|", "\n", "", True, id="pipe-newline-th09-once"),
    pytest.param("*", "\n", "", False, id="star-newline"),
    pytest.param("*", "\\", "", False, id="backslash"),
    pytest.param("*", "\\", "\r\n", False, id="backslash-crlf"),
]


@pytest.mark.parametrize("sep,term,eol,once", SEPARATORS)
@pytest.mark.parametrize("chunk", [1 << 20, 7])
def test_separators_and_chunking(sep, term, eol, once, chunk):
    data = build(sep=sep, term=term, eol=eol, th09_once=once)
    rep = structure(data, chunk)
    assert rep.ok, rep.errors
    assert rep.element_separator == sep and rep.segment_terminator == term
    out = items(data, chunk)
    assert [i.dispensation["prescription_number"] for i in out] == ["RX1001", "RX1002"]


def test_crlf_lines_with_newline_terminator():
    data = build(term="\n").replace(b"\n", b"\r\n")
    rep = structure(data)
    assert rep.ok, rep.errors
    assert rep.segment_terminator == "\n"
    assert [i.patient["city"] for i in items(data)] == ["SPRINGFIELD"] * 2


def test_line_numbers_follow_physical_lines():
    data = build(term="~", eol="\n", blocks=[(pha(), record(1) + record(2, dsp={8: "123"}))])
    out = items(data)
    assert isinstance(out[1], RecordRejected)
    e = out[1].errors[0]
    # TH=1, IS=2, PHA=3, PAT=4, DSP=5, PRE=6, PAT=7, DSP=8
    assert (e.line, e.segment_number, e.segment, e.field, e.value) == (8, 8, "DSP", "DSP08", "123")
    assert out[1].line == 8


def test_utf8_names_are_read_and_other_bytes_as_latin_1():
    data = build(blocks=[(pha(), record(1, pat={7: "MÜLLER"}))])
    assert items(data)[0].patient["last_name"] == "MÜLLER"
    latin = data.replace("MÜLLER".encode(), b"M\xdcLLER")
    assert items(latin)[0].patient["last_name"] == "MÜLLER"


# --------------------------------------------------------------------------- versions


def test_version_42a_fields():
    body = [pat(), dsp({22: "60", 23: "TAKE 1 DAILY", 24: "01"}, n=24), pre()]
    data = build(version="4.2A", blocks=[(pha({13: "PERMIT9"}, n=13), body)])
    rep = structure(data)
    assert rep.ok and rep.version == "4.2A"
    r = items(data)[0]
    assert r.pharmacy["permit_number"] == "PERMIT9"
    assert r.dispensation["quantity_prescribed"] == Decimal(60)
    assert r.dispensation["rx_sig"] == "TAKE 1 DAILY"
    assert "diagnosis_code" not in r.dispensation


def test_version_42b_diagnosis_and_42_ignores_later_elements():
    body = [pat(), dsp({22: "60", 25: "F11.20"}, n=25), pre()]
    r = items(build(version="4.2B", blocks=[(pha(), body)]))[0]
    assert r.dispensation["diagnosis_code"] == "F11.20"
    r = items(build(version="4.2", blocks=[(pha(), body)]))[0]
    assert isinstance(r, Record)
    assert "quantity_prescribed" not in r.dispensation and "permit_number" not in r.pharmacy


def test_version_42a_checks_its_own_fields():
    body = [pat(), dsp({22: "sixty"}, n=24), pre()]
    out = items(build(version="4.2A", blocks=[(pha(), body)]))
    assert [e.field for e in out[0].errors] == ["DSP22"]


@pytest.mark.parametrize(
    "version,text",
    [("4.1", "must be an ASAP version"), ("5.0", "not accepted yet"), ("", "ASAP version")],
)
def test_unknown_version_rejects_file(version, text):
    data = build(version=version)
    e = only_error(structure(data))
    assert (e.segment, e.field) == ("TH", "TH01") and text in e.message
    with pytest.raises(FileRejected):
        items(data)


def test_lower_case_version_is_accepted():
    assert structure(build(version="4.2b")).version == "4.2B"


# --------------------------------------------------------------------------- zero reports


def test_zero_report():
    zero_pat = fields("PAT", 23, {7: "Report", 8: "Zero"}, None)
    zero_dsp = fields("DSP", 21, {5: "20240107"}, None)
    data = build(blocks=[(pha(), [zero_pat, zero_dsp, ["PRE"]])])
    rep = structure(data)
    assert rep.ok, rep.errors
    assert rep.zero_report and rep.record_count == 0 and rep.zero_report_count == 1
    assert rep.pharmacies[0]["zero_report"]
    out = items(data)
    assert len(out) == 1 and isinstance(out[0], ZeroReport)
    assert out[0].date == date(2024, 1, 7) and out[0].pharmacy["ncpdp"] == "1234567"


def test_zero_report_needs_a_date():
    zero_pat = fields("PAT", 23, {7: "REPORT", 8: "ZERO"}, None)
    data = build(blocks=[(pha(), [zero_pat, fields("DSP", 21, {5: "2024"}, None)])])
    out = items(data)
    assert isinstance(out[0], RecordRejected) and out[0].errors[0].field == "DSP05"


# --------------------------------------------------------------------------- revise / void


def test_revise_and_void_keep_status_and_key():
    body = record(1, dsp={1: "01"}) + [
        pat(),
        dsp({1: "02", 2: "RX1001", 6: "1"}),
    ]  # a void needs no PRE
    out = items(build(blocks=[(pha(), body)]))
    assert [i.status for i in out] == ["revise", "void"]
    assert out[0].key == ("ncpdp", "1234567", "RX1001", 0, date(2024, 1, 3))
    assert out[1].key == ("ncpdp", "1234567", "RX1001", 1, date(2024, 1, 3))
    assert out[1].prescriber is None


def test_key_falls_back_to_npi():
    out = items(build(blocks=[(pha({2: ""}), record(1))]))
    assert out[0].key[:2] == ("npi", PHARMACY_NPI)


def test_bad_status_rejects_record():
    out = items(build(blocks=[(pha(), record(1, dsp={1: "03"}))]))
    assert out[0].errors[0].field == "DSP01" and "00, 01, 02" in out[0].errors[0].message


# --------------------------------------------------------------------------- counts


def test_tp_count_wrong():
    data = build(tp_delta=1)
    e = only_error(structure(data))
    assert (e.segment, e.field, e.value) == ("TP", "TP01", "9")
    assert "PHA through TP" in e.message
    with pytest.raises(FileRejected) as exc:
        items(data)
    assert exc.value.errors[0].field == "TP01"


def test_tt_count_wrong():
    e = only_error(structure(build(tt_delta=-1)))
    assert (e.segment, e.field) == ("TT", "TT02") and "TH through TT" in e.message


def test_a_th02_too_long_is_reported_on_th02_alone_when_tt01_repeats_it():
    control = "C" * 31  # one past TH02's 30 characters
    report = structure(build(th02=control))
    assert [(e.segment, e.field) for e in report.errors] == [("TH", "TH02")]


def test_tt01_must_match_th02():
    data = build(tt01="9999")
    e = only_error(structure(data))
    assert (e.segment, e.field, e.value) == ("TT", "TT01", "9999")
    with pytest.raises(FileRejected):
        items(data)


def test_counts_with_two_pharmacies():
    data = build(blocks=[(pha(), record(1)), (pha({2: "7654321"}), record(2) + record(3))])
    rep = structure(data)
    assert rep.ok, rep.errors
    assert [p["record_count"] for p in rep.pharmacies] == [1, 2]
    out = items(data)
    assert [i.pharmacy["ncpdp"] for i in out] == ["1234567", "7654321", "7654321"]


# --------------------------------------------------------------------------- structure


def _segments(data: bytes) -> list[str]:
    head, rest = data.decode().split("~~", 1)  # TH09 is "~", then the terminator
    return [head + "~", *rest.split("~")[:-1]]


def _join(segs: list[str]) -> bytes:
    return ("~".join(segs) + "~").encode()


@pytest.mark.parametrize(
    "mutate,segment,text",
    [
        (lambda s: s[1:], "TH", "start with a TH"),
        (lambda s: s[:1] + s[2:], "PHA", "IS (Information Source) is missing"),
        (lambda s: s[:2] + s[3:], "PAT", "pharmacy block"),
        (lambda s: s[:-2] + s[-1:], "TT", "before a TP"),
        (lambda s: s[:-1], "TP", "ends early, after this segment: TT missing"),
        (lambda s: s + ["PAT"], "?", "after TT"),
        (lambda s: s[:4] + s[6:], "PAT", "has no DSP"),  # PAT, PAT ...
        (lambda s: s[:3] + s[4:], "DSP", "follow a PAT"),
        (lambda s: s[:3] + ["XYZ*1"] + s[3:], "?", "Unknown segment"),
        (lambda s: s[:2] + s[1:], "IS", "once"),
        (lambda s: s + s, "?", "after TT"),
        (
            lambda s: s[:2] + [s[2].replace(PHARMACY_NPI, "").replace("1234567", "")] + s[3:],
            "PHA",
            "identified",
        ),
    ],
)
def test_structural_errors_reject_the_file(mutate, segment, text):
    data = _join(mutate(_segments(build())))
    rep = structure(data)
    assert not rep.ok
    assert rep.errors[0].segment == segment, rep.errors
    assert text in rep.errors[0].message
    with pytest.raises(FileRejected) as exc:
        items(data)
    assert text in str(exc.value)


def test_bad_pharmacy_npi_is_structural():
    e = only_error(structure(build(blocks=[(pha({1: "1234567890"}), record(1))])))
    assert (e.segment, e.field, e.value) == ("PHA", "PHA01", "1234567890")


def test_missing_th09():
    rep = structure(b"TH*4.2*1001*01**20240105")
    assert only_error(rep).field == "TH09"


def test_empty_file():
    assert "start with a TH" in only_error(structure(b"")).message
    with pytest.raises(FileRejected):
        items(b"")


def test_th_field_errors():
    data = build().replace(b"*20240105*1230*P*", b"*20241305*2599*X*")
    rep = structure(data)
    assert [e.field for e in rep.errors] == ["TH05", "TH06", "TH07"]


# --------------------------------------------------------------------------- record errors


def test_record_error_rejects_only_its_record():
    blocks = [(pha(), record(1, dsp={8: "0040-9123-401"}) + record(2))]
    data = build(blocks=blocks)
    assert structure(data).ok  # not structural
    out = items(data)
    assert isinstance(out[0], RecordRejected) and isinstance(out[1], Record)
    e = out[0].errors[0]
    assert (e.line, e.segment_number, e.segment, e.field, e.value) == (
        1,
        5,
        "DSP",
        "DSP08",
        "0040-9123-401",
    )
    assert "11-digit NDC" in e.message
    assert out[0].key == ("ncpdp", "1234567", "RX1001", 0, date(2024, 1, 3))
    assert out[1].dispensation["prescription_number"] == "RX1002"


def test_error_strings_do_not_leak_patient_values():
    out = items(build(blocks=[(pha(), record(1, pat={18: "19801345", 7: "X" * 80}))]))
    errs = out[0].errors
    assert {e.field for e in errs} == {"PAT07", "PAT18"}
    long = next(e for e in errs if e.field == "PAT07")
    assert long.value == "X" * 40  # truncated
    for e in errs:
        assert e.value and e.value not in str(e) and e.value not in repr(e)
    assert "19801345" not in repr(out[0]) and "XXXX" not in str(FileRejected(errs))
    assert errs[0].as_dict()["value"]


def test_patient_errors_reject_every_dispensation_of_that_patient():
    body = [pat({19: "X"}), dsp({2: "A"}), pre(), dsp({2: "B"}), pre(), *record(3)]
    out = items(build(blocks=[(pha(), body)]))
    assert [type(i) for i in out] == [RecordRejected, RecordRejected, Record]
    assert out[0].errors[0].field == "PAT19"


@pytest.mark.parametrize(
    "over,field",
    [
        ({"pat": {7: ""}}, "PAT07"),
        ({"pat": {8: ""}}, "PAT08"),
        ({"pat": {15: "ILL"}}, "PAT15"),
        ({"pat": {16: ""}}, "PAT16"),
        ({"pat": {18: "1980-02-15"}}, "PAT18"),
        ({"dsp": {3: "20240230"}}, "DSP03"),
        ({"dsp": {4: "-1"}}, "DSP04"),
        ({"dsp": {6: ""}}, "DSP06"),
        ({"dsp": {7: "02"}}, "DSP07"),
        ({"dsp": {9: "0"}}, "DSP09"),
        ({"dsp": {9: "1,5"}}, "DSP09"),
        ({"dsp": {10: "30.5"}}, "DSP10"),
        ({"dsp": {11: "04"}}, "DSP11"),
        ({"dsp": {14: "1234567890"}}, "DSP14"),
        ({"dsp": {17: "2024013"}}, "DSP17"),
        ({"pre": {1: "", 2: "AB1234567"}}, "PRE02"),
        ({"pre": {1: "", 2: ""}}, "PRE02"),
        ({"pre": {1: "12345"}}, "PRE01"),
    ],
)
def test_field_checks(over, field):
    out = items(build(blocks=[(pha(), record(1, **over))]))
    assert isinstance(out[0], RecordRejected)
    assert [e.field for e in out[0].errors] == [field]
    assert field in out[0].errors[0].message


def test_non_us_patient_needs_no_state_or_zip():
    out = items(build(blocks=[(pha(), record(1, pat={15: "", 16: "", 22: "CANADA"}))]))
    assert isinstance(out[0], Record) and out[0].patient["country"] == "CANADA"


def test_missing_prescriber_rejects_record():
    out = items(build(blocks=[(pha(), [pat(), dsp()])]))
    assert out[0].errors[0].segment == "PRE"


def test_compound_with_cdi_and_air():
    body = [pat(), dsp({7: "06", 8: "99999999999"}), pre(), cdi(), cdi({1: "2", 4: "2.5"}), air()]
    r = items(build(blocks=[(pha(), body)]))[0]
    assert isinstance(r, Record)
    assert [c["sequence_number"] for c in r.compounds] == [1, 2]
    assert r.compounds[1]["quantity"] == Decimal("2.5")
    assert r.additional["serial_number"] == "SN123" and r.additional["person_id"] == "X99"


def test_compound_without_cdi_rejected():
    out = items(build(blocks=[(pha(), record(1, dsp={7: "06", 8: "99999999999"}))]))
    assert out[0].errors[0].field == "DSP07"


@pytest.mark.parametrize(
    "body,text",
    [
        ([pat(), dsp(), pre(), pre()], "Only one PRE"),
        ([pat(), dsp(), pre(), air(), cdi()], "before the AIR"),
        ([pat(), dsp(), pre(), air(), air()], "Only one AIR"),
        ([pat(), dsp(), pre(), cdi({3: "123"})], "CDI03"),
        ([pat(), dsp(), pre(), cdi({5: ""})], "CDI05"),
        ([pat(), dsp(), pre(), air({1: "1"})], "AIR01"),
    ],
)
def test_sub_segment_errors_are_record_level(body, text):
    data = build(blocks=[(pha(), body + record(9))])
    assert structure(data).ok
    out = items(data)
    assert isinstance(out[0], RecordRejected) and isinstance(out[1], Record)
    assert text in out[0].errors[0].message


# --------------------------------------------------------------------------- streaming


class Generated(io.RawIOBase):
    """A file of ``n`` records produced on the fly (never held whole)."""

    def __init__(self, n: int):
        head = build(blocks=[(pha(), [])]).split(b"~TP*")[0] + b"~"
        self.parts = self._parts(head, n)
        self.buf = b""

    def _parts(self, head, n):
        yield head
        one = b"".join(("*".join(s) + "~").encode() for s in record(1))
        for _ in range(n):
            yield one
        yield f"TP*{3 * n + 2}~TT*1001*{3 * n + 5}~".encode()

    def readable(self):
        return True

    def readinto(self, b):
        while len(self.buf) < len(b):
            nxt = next(self.parts, None)
            if nxt is None:
                break
            self.buf += nxt
        n = min(len(b), len(self.buf))
        b[:n] = self.buf[:n]
        self.buf = self.buf[n:]
        return n


def test_streaming_in_bounded_memory():
    n = 20_000  # about 5 MB of file
    rep = check_structure(Generated(n), chunk_size=1 << 16)
    assert rep.ok, rep.errors
    assert rep.record_count == n
    tracemalloc.start()
    try:
        count = 0
        for item in read_records(Generated(n), RECEIVED_AT, chunk_size=1 << 16):
            assert isinstance(item, Record)
            count += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == n
    assert peak < 3_000_000, peak


def test_accepts_text_reads():
    assert structure(build()).ok
    assert check_structure(io.StringIO(build().decode())).ok


# --------------------------------------------------------------------------- fuzzing


def _placed(errors: list[AsapError], data: bytes) -> None:
    """Each error is placed in the file: its value short, its offset inside the file, and the
    segment an error about a field names starts at its offset."""
    for e in errors:
        assert isinstance(e, AsapError) and len(e.value) <= 40
        assert 0 <= e.byte_offset <= len(data) and e.segment_number >= 1
        if e.field and e.field[:-2] == e.segment:
            assert data[e.byte_offset :].startswith(e.segment.encode()), e


def _run_both(data: bytes, chunk: int) -> None:
    """check_structure, read_records and error_report end, with nothing raised but
    FileRejected; they agree on whether the file is refused; a refused file yields no item
    after its first structural error, and the pipeline (items only when the structure is
    sound) no record at all."""
    rep = check_structure(io.BytesIO(data), chunk_size=chunk)
    assert isinstance(rep.ok, bool)
    _placed(rep.errors + rep.notes, data)
    full = error_report(io.BytesIO(data), RECEIVED_AT, chunk_size=chunk)
    assert full.ok == rep.ok and full.error_count >= rep.error_count
    _placed(full.errors, data)
    out: list = []
    try:
        for item in read_records(io.BytesIO(data), RECEIVED_AT, chunk_size=chunk):
            out.append(item)
    except FileRejected as rejected:
        assert not rep.ok, "read_records rejected a file check_structure accepted"
        assert [e.as_dict() for e in rejected.errors] == [e.as_dict() for e in rep.errors]
        first = rep.errors[0].segment_number
        assert all(i.segment_number < first for i in out), "an item after a structural error"
        return
    assert rep.ok, "read_records accepted a file check_structure rejected"
    assert len(out) == rep.record_count + rep.zero_report_count
    for i in out:
        assert isinstance(i, (Record, RecordRejected, ZeroReport))
    errors = [e for i in out if isinstance(i, RecordRejected) for e in i.errors]
    _placed(errors, data)
    in_file_order = sorted(errors[:MAX_ERRORS], key=lambda e: e.segment_number)
    listed = [e.as_dict() for e in full.errors[:MAX_ERRORS]]
    assert listed == [e.as_dict() for e in in_file_order]


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(st.binary(max_size=400), st.sampled_from([1 << 20, 5, 64]))
def test_fuzz_random_bytes(data, chunk):
    _run_both(data, chunk)


@FUZZ
@given(st.binary(max_size=200), st.sampled_from([1 << 20, 3]))
def test_fuzz_random_bytes_after_th(tail, chunk):
    _run_both(b"TH*4.2*1*01**20240105*1230*P**~~" + tail, chunk)


VALID = _segments(
    build(
        blocks=[
            (pha(), record(1) + [pat(), dsp({7: "06", 8: "99999999999"}), pre(), cdi(), air()]),
            (
                pha({2: "7654321"}),
                [
                    fields("PAT", 23, {7: "REPORT", 8: "ZERO"}, None),
                    fields("DSP", 21, {5: "20240107"}, None),
                ],
            ),
        ]
    )
)


@st.composite
def mutated(draw):
    segs = list(VALID)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "char", "insert"]))
        i = draw(st.integers(0, len(segs) - 1)) if segs else 0
        if not segs:
            break
        if op == "delete":
            del segs[i]
        elif op == "duplicate":
            segs.insert(i, segs[i])
        elif op == "swap":
            j = draw(st.integers(0, len(segs) - 1))
            segs[i], segs[j] = segs[j], segs[i]
        elif op == "char":
            s = segs[i]
            k = draw(st.integers(0, max(0, len(s) - 1)))
            c = draw(st.sampled_from(list("*~\\|\n\r 0A9.-\x00\xff")))
            segs[i] = s[:k] + c + s[k + 1 :]
        else:
            segs.insert(i, draw(st.text(max_size=30)))
    text = "~".join(segs) + "~"
    return text.encode("utf-8", "surrogatepass")


@FUZZ
@given(mutated(), st.sampled_from([1 << 20, 11]))
def test_fuzz_mutated_valid_files(data, chunk):
    _run_both(data, chunk)


#: VALID written on one line, and a segment a line (LF, CRLF).
LAYOUTS = [("~" + eol).join(VALID).encode() + b"~" + eol.encode() for eol in ("", "\n", "\r\n")]


@st.composite
def mutated_bytes(draw):
    """A valid file with bytes flipped (Latin-1 ones among them), blanks put after a
    terminator, a part repeated, or the file cut."""
    data = bytearray(draw(st.sampled_from(LAYOUTS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "latin", "blanks", "repeat", "cut"]))
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= draw(st.integers(1, 255))
        elif op == "latin":
            data[i] = draw(st.sampled_from([0xD1, 0xE9, 0xFF, 0x80]))
        elif op == "blanks":
            at = data.find(b"~", i) + 1
            data[at:at] = draw(st.sampled_from([b" ", b"\n", b"\r\n", b"\t\n ", b"\n\n"]))
        elif op == "repeat":
            j = draw(st.integers(i, min(len(data), i + 300)))
            data[i:i] = data[i:j]
        else:
            data = data[:i]
        if not data:
            break
    return bytes(data)


@FUZZ
@given(mutated_bytes(), st.sampled_from([1 << 20, 16, 29]))
def test_fuzz_valid_files_with_bytes_changed(data, chunk):
    _run_both(data, chunk)
