"""Support-time arithmetic: weekends, holidays, the 8:00 and 17:00 edges, daylight saving
time, and Critical's round-the-clock count. Every moment is given (an injected clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.helpdesk.business_hours import CRITICAL, HIGH, LOW, MEDIUM, SupportCalendar

NY = ZoneInfo("America/New_York")
CALENDAR = SupportCalendar(NY)
H = timedelta(hours=1)


def at(day: str, clock: str = "08:00") -> datetime:
    """A wall-clock moment in New York, e.g. at("2026-12-04", "16:00") (a Friday)."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=NY)


def same(a: datetime, b: datetime) -> bool:
    return a.astimezone(UTC) == b.astimezone(UTC)


def test_within_one_day():
    assert same(CALENDAR.add(at("2026-12-01", "09:00"), 3 * H), at("2026-12-01", "12:00"))
    assert CALENDAR.elapsed(at("2026-12-01", "09:00"), at("2026-12-01", "12:30")) == 3.5 * H


def test_friday_afternoon_runs_into_monday():
    # Friday 16:00 + 4 support hours: 1 hour on Friday, 3 on Monday.
    assert same(CALENDAR.add(at("2026-12-04", "16:00"), 4 * H), at("2026-12-07", "11:00"))
    assert CALENDAR.elapsed(at("2026-12-04", "16:00"), at("2026-12-07", "11:00")) == 4 * H


def test_a_weekend_counts_nothing():
    assert CALENDAR.elapsed(at("2026-12-05", "00:00"), at("2026-12-06", "23:59")) == timedelta(0)
    # Opened on Saturday: the clock starts at 8:00 on Monday.
    assert same(CALENDAR.add(at("2026-12-05", "10:00"), 2 * H), at("2026-12-07", "10:00"))


def test_a_whole_week_is_45_hours():
    assert CALENDAR.elapsed(at("2026-11-30", "00:00"), at("2026-12-07", "00:00")) == 45 * H


def test_the_17_00_edge():
    # Opened at closing time exactly: counting starts at 8:00 next working day.
    assert same(CALENDAR.add(at("2026-12-01", "17:00"), 1 * H), at("2026-12-02", "09:00"))
    # A target that uses up the day's hours exactly falls due at 17:00, not at 8:00 next day.
    assert same(CALENDAR.add(at("2026-12-01", "08:00"), 9 * H), at("2026-12-01", "17:00"))
    # One minute before closing, two hours: one minute today, the rest tomorrow.
    minute = timedelta(minutes=1)
    assert same(CALENDAR.add(at("2026-12-01", "16:59"), 2 * H),
                at("2026-12-02", "09:59"))  # fmt: skip
    assert CALENDAR.elapsed(at("2026-12-01", "16:59"), at("2026-12-01", "18:00")) == minute
    assert not CALENDAR.is_open(at("2026-12-01", "17:00"))
    assert CALENDAR.is_open(at("2026-12-01", "16:59"))


def test_the_8_00_edge():
    assert same(CALENDAR.add(at("2026-12-01", "07:59"), 1 * H), at("2026-12-01", "09:00"))
    assert same(CALENDAR.add(at("2026-12-01", "06:00"), 1 * H), at("2026-12-01", "09:00"))
    assert CALENDAR.elapsed(at("2026-12-01", "06:00"), at("2026-12-01", "08:00")) == timedelta(0)
    assert CALENDAR.is_open(at("2026-12-01", "08:00"))
    assert not CALENDAR.is_open(at("2026-12-01", "07:59"))


def test_holidays_are_skipped():
    calendar = CALENDAR.with_holidays({date(2026, 12, 25)})  # a Friday
    # Thursday 16:00 + 3 hours: 1 on Thursday, Friday is Christmas, 2 on Monday.
    assert same(calendar.add(at("2026-12-24", "16:00"), 3 * H), at("2026-12-28", "10:00"))
    assert calendar.elapsed(at("2026-12-24", "16:00"), at("2026-12-28", "10:00")) == 3 * H
    assert not calendar.is_open(at("2026-12-25", "10:00"))
    # Without the holiday Friday counts.
    assert same(CALENDAR.add(at("2026-12-24", "16:00"), 3 * H), at("2026-12-25", "10:00"))


def test_a_holiday_on_monday_after_a_weekend():
    calendar = CALENDAR.with_holidays({date(2027, 1, 18)})  # Martin Luther King Jr. Day
    assert same(calendar.add(at("2027-01-15", "16:30"), 1 * H), at("2027-01-19", "08:30"))


def test_daylight_saving_time_begins():
    # 8 March 2026, a Sunday, clocks go forward at 2:00. Friday 16:00 EST + 2 hours is
    # Monday 9:00 EDT: support hours are wall-clock hours on both sides.
    due = CALENDAR.add(at("2026-03-06", "16:00"), 2 * H)
    assert same(due, at("2026-03-09", "09:00"))
    assert due.astimezone(UTC) == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    # Critical counts real hours: Saturday 23:00 EST + 4 hours is 4:00 EDT on Sunday.
    critical = CALENDAR.deadline(at("2026-03-07", "23:00"), 4 * H, CRITICAL)
    assert critical.astimezone(NY).time() == time(4, 0)
    assert CALENDAR.age(at("2026-03-08", "00:00"), at("2026-03-08", "04:00"), CRITICAL) == 3 * H


def test_daylight_saving_time_ends():
    # 1 November 2026: the night has 25 hours, support days still have 9.
    assert CALENDAR.elapsed(at("2026-10-30", "00:00"), at("2026-11-03", "00:00")) == 18 * H
    assert CALENDAR.age(at("2026-11-01", "00:00"), at("2026-11-02", "00:00"), CRITICAL) == 25 * H


def test_critical_counts_every_hour_others_support_hours():
    friday = at("2026-12-04", "16:00")
    assert same(CALENDAR.deadline(friday, 2 * H, CRITICAL), at("2026-12-04", "18:00"))
    assert same(CALENDAR.deadline(friday, 2 * H, HIGH), at("2026-12-07", "09:00"))
    assert same(CALENDAR.deadline(friday, 2 * H, MEDIUM), at("2026-12-07", "09:00"))
    assert same(CALENDAR.deadline(friday, 2 * H, LOW), at("2026-12-07", "09:00"))
    monday = at("2026-12-07", "09:00")
    assert CALENDAR.age(friday, monday, CRITICAL) == 65 * H
    assert CALENDAR.age(friday, monday, HIGH) == 2 * H


def test_long_spans_and_zero():
    start = at("2026-12-01", "10:00")
    assert CALENDAR.add(start, timedelta(0)) == start
    assert CALENDAR.elapsed(start, start) == timedelta(0)
    assert CALENDAR.elapsed(start, start - H) == timedelta(0)
    # 27 support hours = three working days.
    assert same(CALENDAR.add(start, 27 * H), at("2026-12-04", "10:00"))


def test_another_time_zone_and_utc_inputs():
    calendar = SupportCalendar(ZoneInfo("America/Los_Angeles"))
    # 16:00 UTC on a Tuesday in December is 8:00 in Los Angeles.
    start = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    assert calendar.add(start, H) == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


def test_refusals():
    with pytest.raises(ValueError, match="aware"):
        CALENDAR.elapsed(datetime(2026, 12, 1, 9), datetime(2026, 12, 1, 10))
    with pytest.raises(ValueError, match="negative"):
        CALENDAR.add(at("2026-12-01"), -H)
    with pytest.raises(ValueError, match="category"):
        CALENDAR.deadline(at("2026-12-01"), H, "urgent")
    with pytest.raises(ValueError, match="working day"):
        SupportCalendar(NY, workdays=frozenset())
    with pytest.raises(ValueError, match="open before"):
        SupportCalendar(NY, opens=time(17), closes=time(8))
