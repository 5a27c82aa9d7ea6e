"""The help desk's support calendar: when the clock of a response target runs.

Support hours are Monday to Friday, 8:00 to 17:00 in the program's time zone, except the
holidays administrators list. A target of 8 hours set at 16:00 on a Friday falls due at
15:00 on Monday; one set at 17:00 exactly (closing time) starts counting at 8:00 next
working day. Critical tickets count every hour of the day, weekends and holidays included
("continuous effort until resolved").

Pure: no I/O and no clock of its own; every moment is given. Moments are aware datetimes;
arithmetic is done in UTC, because Python subtracts two datetimes that share one ``tzinfo``
by their wall clocks, which is an hour wrong across a change to or from daylight saving
time. Opening and closing times are wall-clock times of each day in the program's zone,
so they stay 8:00 and 17:00 on both sides of such a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

CRITICAL, HIGH, MEDIUM, LOW = "critical", "high", "medium", "low"
CATEGORIES = (CRITICAL, HIGH, MEDIUM, LOW)
ALL_HOURS = frozenset({CRITICAL})  # categories whose targets count every hour

MONDAY_TO_FRIDAY = frozenset(range(5))
MAX_DAYS = 3 * 366  # a target further away than this is a configuration mistake


@dataclass(frozen=True)
class SupportCalendar:
    timezone: tzinfo = field(default_factory=lambda: ZoneInfo("America/New_York"))
    holidays: frozenset[date] = frozenset()
    opens: time = time(8)
    closes: time = time(17)
    workdays: frozenset[int] = MONDAY_TO_FRIDAY  # date.weekday(): Monday is 0

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ValueError("Support hours must open before they close.")
        if not self.workdays:
            raise ValueError("Support hours need at least one working day.")

    def with_holidays(self, holidays: Iterable[date]) -> SupportCalendar:
        return SupportCalendar(self.timezone, frozenset(holidays), self.opens, self.closes,
                               self.workdays)  # fmt: skip

    # -- days ------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.workdays and day not in self.holidays

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The support hours of ``day`` in UTC, or None on a weekend or holiday."""
        if not self.is_working_day(day):
            return None
        start = datetime.combine(day, self.opens, tzinfo=self.timezone).astimezone(UTC)
        end = datetime.combine(day, self.closes, tzinfo=self.timezone).astimezone(UTC)
        return start, end

    def _windows_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        day = _utc(moment).astimezone(self.timezone).date()
        for offset in range(MAX_DAYS):
            window = self.window(day + timedelta(days=offset))
            if window is not None:
                yield window
        raise ValueError(f"No support hours within {MAX_DAYS} days of {moment.isoformat()}.")

    def is_open(self, moment: datetime) -> bool:
        moment = _utc(moment)
        window = self.window(moment.astimezone(self.timezone).date())
        return window is not None and window[0] <= moment < window[1]

    # -- arithmetic ------------------------------------------------------------------------

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Support time between ``start`` and ``end`` (zero if ``end`` is not later)."""
        start, end = _utc(start), _utc(end)
        total = timedelta(0)
        if end <= start:
            return total
        for opens, closes in self._windows_from(start):
            if opens >= end:
                break
            overlap = min(closes, end) - max(opens, start)
            if overlap > timedelta(0):
                total += overlap
        return total

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment ``duration`` of support time after ``start``. A deadline that uses up
        a day's hours exactly falls at that day's closing time, not the next opening."""
        start = _utc(start)
        if duration < timedelta(0):
            raise ValueError("A duration of support time cannot be negative.")
        if duration == timedelta(0):
            return start
        remaining = duration
        for opens, closes in self._windows_from(start):
            begin = max(opens, start)
            if begin >= closes:
                continue
            available = closes - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable")  # pragma: no cover

    # -- by category -----------------------------------------------------------------------

    def deadline(self, start: datetime, duration: timedelta, category: str) -> datetime:
        """When a target of ``duration`` set at ``start`` falls due for ``category``."""
        _known(category)
        if category in ALL_HOURS:
            return _utc(start) + duration
        return self.add(start, duration)

    def age(self, start: datetime, end: datetime, category: str) -> timedelta:
        """How much of a ``category`` target the time from ``start`` to ``end`` used up."""
        _known(category)
        if category in ALL_HOURS:
            return max(timedelta(0), _utc(end) - _utc(start))
        return self.elapsed(start, end)


def _known(category: str) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"There is no ticket category {category!r}.")


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Support-time arithmetic needs aware datetimes (with a time zone).")
    return moment.astimezone(UTC)
