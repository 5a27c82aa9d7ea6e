"""Impossible dates are refused record by record, naming the field: a fill, written or birth
date more than a day after the file was received or before 1900, a fill before the written
date. Each edge is tested on both sides."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.submissions.asap import Record, RecordRejected, ZeroReport, read_records
from tests.helpers.asap import RECEIVED_AT, build, fields, pha, record

TODAY = RECEIVED_AT.date()


def day(d: date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def one(received_at: datetime = RECEIVED_AT, **over) -> Record | RecordRejected:
    (item,) = read_records(io.BytesIO(build([(pha(), record(1, **over))])), received_at)
    return item


def refused_fields(item) -> list[str]:
    assert isinstance(item, RecordRejected), item
    return [e.field for e in item.errors]


@pytest.mark.parametrize(
    "where,over",
    [
        ("DSP05", lambda d: {"dsp": {3: day(TODAY), 5: d}}),
        ("DSP03", lambda d: {"dsp": {3: d, 5: day(TODAY + timedelta(days=1))}}),
        ("PAT18", lambda d: {"pat": {18: d}}),
    ],
)
def test_a_date_a_day_after_receipt_is_taken_and_two_days_after_is_refused(where, over):
    assert isinstance(one(**over(day(TODAY + timedelta(days=1)))), Record)
    refused = one(**over(day(TODAY + timedelta(days=2))))
    assert refused_fields(refused) == [where]
    (error,) = refused.errors
    assert error.value == day(TODAY + timedelta(days=2))
    assert f"after the day the file was received ({TODAY.isoformat()})" in error.message
    assert error.message.startswith(where)


@pytest.mark.parametrize(
    "where,over",
    [
        ("DSP05", lambda d: {"dsp": {3: "19000101", 5: d}}),
        ("DSP03", lambda d: {"dsp": {3: d, 5: "19000101"}}),
        ("PAT18", lambda d: {"pat": {18: d}}),
    ],
)
def test_1900_01_01_is_taken_and_the_day_before_is_refused(where, over):
    assert isinstance(one(**over("19000101")), Record)
    refused = one(**over("18991231"))
    assert refused_fields(refused) == [where]
    assert "before 1900-01-01" in refused.errors[0].message


def test_a_fill_on_the_day_written_is_taken_and_a_day_before_is_refused():
    assert isinstance(one(dsp={3: "20240110", 5: "20240110"}), Record)
    refused = one(dsp={3: "20240110", 5: "20240109"})
    assert refused_fields(refused) == ["DSP05"]
    assert "before DSP03 (Date Written, 2024-01-10)" in refused.errors[0].message


def test_the_record_of_the_probe_is_refused_and_its_neighbours_are_taken():
    body = record(1) + record(2, dsp={5: "99991231"}) + record(3)
    items = list(read_records(io.BytesIO(build([(pha(), body)])), RECEIVED_AT))
    assert [type(i) for i in items] == [Record, RecordRejected, Record]
    assert [e.field for e in items[1].errors] == ["DSP05"]


def test_the_receipt_day_is_the_utc_day():
    """Received at 23:30 in New York is 04:30 the next day in UTC: a fill dated two days
    after the New York day is within a day of the UTC day."""
    evening = datetime(2026, 3, 2, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    assert isinstance(one(evening, dsp={3: "20260304", 5: "20260304"}), Record)
    assert refused_fields(one(evening, dsp={3: "20260305", 5: "20260305"})) == ["DSP03", "DSP05"]


def test_a_void_withdraws_a_record_whatever_its_dates():
    """A record stored with an impossible date before these rules can still be voided."""
    void = one(dsp={1: "02", 5: "99991231"}, pat={18: "18000101"})
    assert isinstance(void, Record) and void.status == "void"
    assert refused_fields(one(dsp={1: "01", 5: "99991231"})) == ["DSP05"]  # a revision is not


def test_a_zero_report_for_a_day_not_yet_come_is_refused():
    zero_pat = fields("PAT", 23, {7: "Report", 8: "Zero"}, None)

    def zero(d: str):
        data = build([(pha(), [zero_pat, fields("DSP", 21, {5: d}, None), ["PRE"]])])
        (item,) = read_records(io.BytesIO(data), RECEIVED_AT)
        return item

    assert isinstance(zero(day(TODAY)), ZeroReport)
    assert refused_fields(zero("99991231")) == ["DSP05"]
