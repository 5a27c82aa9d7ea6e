"""The ASAP parser's fast paths give what its element-by-element reference gives."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.submissions import asap
from services.submissions.asap import (
    _SPECS,
    _convert,
    _convert_each,
    _convert_recurring,
    _Converted,
)
from tests.helpers.asap import PHARMACY_NPI, PRESCRIBER_DEA, air, cdi, dsp, pat, pha, pre

SEGMENTS = [(v, seg) for v, specs in _SPECS.items() for seg in specs]
#: A valid segment of each kind, to start from (then a few elements are changed).
VALID = {
    "TH": ["TH", "4.2", "1001", "01", "", "20240105", "1230", "P", "", "~"],
    "IS": ["IS", "ISID01", "MAIN ST PHARMACY", ""],
    "PHA": pha(n=13),
    "PAT": pat(),
    "DSP": dsp({22: "10", 23: "TAKE 1", 24: "01", 25: "F11.2"}),
    "PRE": pre(),
    "CDI": cdi(),
    "AIR": air(),
    "TP": ["TP", "5"],
    "TT": ["TT", "1001", "9"],
}

#: Values that are valid for some kinds and invalid for others, and random short text.
VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "00",
            "01",
            "02",
            "06",
            "4.2",
            "4.2A",
            "P",
            "F",
            "IL",
            "il",
            "62701",
            "20240131",
            "20240230",
            "1230",
            "2460",
            "2.5",
            ".5",
            "2.",
            "0.0",
            "12345678901",
            PHARMACY_NPI,
            PRESCRIBER_DEA,
            PRESCRIBER_DEA.lower(),
            "x" * 61,
            "\u0661\u0662",
        ]
    ),
    st.text(alphabet="0123456789AZaz. -", max_size=12).map(lambda v: v.strip(" ")),
)


@st.composite
def segments(draw):
    """(version, segment id, fields): a valid segment, a few elements changed, maybe cut."""
    version, seg = draw(st.sampled_from(SEGMENTS))
    fields = list(VALID[seg])
    for _ in range(draw(st.integers(0, 3))):
        no = draw(st.integers(1, 27))
        fields += [""] * (no + 1 - len(fields))
        fields[no] = draw(VALUES)
    if draw(st.booleans()):
        fields = fields[: draw(st.integers(1, len(fields)))]
    return version, seg, fields


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(segments())
def test_convert_matches_the_element_by_element_reference(segment):
    version, seg, fields = segment
    spec = _SPECS[version][seg]
    fast_errors: list = []
    reference_errors: list = []
    fast = _convert(spec, fields, 3, 7, 120, seg, fast_errors)
    reference = _convert_each(spec, fields, 3, 7, 120, seg, reference_errors)
    # repr: the same types too (Decimal("2.5") and Decimal("2.50") are equal), in key order
    assert repr(list(fast.items())) == repr(list(reference.items()))
    assert [e.as_dict() for e in fast_errors] == [e.as_dict() for e in reference_errors]


def test_a_recurring_segment_gets_a_fresh_copy_each_time():
    spec = _SPECS["4.2"]["PRE"]
    fields = pre()
    first = _convert_recurring(spec, fields, 1, 1, 0, "PRE", [])
    first["npi"] = "changed by a caller"
    second = _convert_recurring(spec, list(fields), 2, 2, 90, "PRE", [])
    assert second == _convert_each(spec, fields, 2, 2, 90, "PRE", [])
    assert second is not first


def test_a_recurring_segment_with_errors_is_reported_every_time():
    spec = _SPECS["4.2"]["PRE"]
    fields = pre({1: "1234567890"})  # bad check digit
    for line in (1, 2):
        errors: list = []
        _convert_recurring(spec, fields, line, line, 10 * line, "PRE", errors)
        assert [(e.line, e.field) for e in errors] == [(line, "PRE01")]


def test_converted_values_are_kept_in_bounded_memory(monkeypatch):
    monkeypatch.setattr(asap, "CACHE_SIZE", 10)
    seen = _Converted(int)
    for n in range(25):
        assert seen[str(n)] == n
    assert len(seen) <= 10
    assert seen["9" * 30] == int("9" * 30)
    assert "9" * 30 not in seen  # never valid anywhere: not kept
