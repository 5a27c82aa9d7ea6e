"""Each misuse signal on both sides of its threshold: raised just at or above it, not raised
just below; the usual hours wrap at midnight; a short history is not judged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pmp.config import ConfigError, load_settings
from services.audit.signals import (
    Address,
    DailyBaseline,
    MisusePolicy,
    Patient,
    Search,
    Searcher,
    daily_volume,
    due,
    hours_outside,
    name_keys,
    repeated_searches,
    searcher_identifiers,
    shared_address,
    shared_surname,
    signal_id,
    unusual_hour,
    usual_band,
    usual_hours,
)

ZONE = ZoneInfo("America/New_York")
POLICY = MisusePolicy()
NOON = datetime(2026, 11, 10, 17, 0, tzinfo=UTC)  # 12:00 in Hartford
HOME = Address.from_lines(["165 Capitol Avenue", "Hartford, CT 06106"])
JANE = Searcher("a1", "Jane Doe", "prescriber", "Doe", HOME, frozenset({"DEA AB1234563"}))


def search(n: int = 1, at: datetime = NOON, last: str = "Smith", persons=("p1",)) -> Search:
    return Search(f"00000000-0000-4000-8000-{n:012d}", "a1", at, last, tuple(persons))


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).astimezone(UTC)


# -- surname ---------------------------------------------------------------------------------


def test_a_search_for_the_searcher_s_own_surname_is_raised_another_is_not() -> None:
    found = shared_surname(JANE, search(last="DOE"), None)
    assert found is not None and found.numbers["surname"] == "DOE" and found.numbers["typed"]
    assert found.search_ids == (search().search_id,)
    assert shared_surname(JANE, search(last="Dow"), None) is None


def test_a_patient_reported_under_the_searcher_s_surname_is_raised() -> None:
    reported = Patient("p1", frozenset({"O'Doe-Smith"}))
    assert shared_surname(JANE, search(last="Smith"), reported) is None  # ODOESMITH, ODOE, SMITH
    cousin = Patient("p1", frozenset({"Smith-Doe"}))
    found = shared_surname(JANE, search(last="Smith"), cousin)
    assert found is not None and found.numbers["reported"] and not found.numbers["typed"]


def test_surnames_compare_without_case_punctuation_or_particles() -> None:
    assert name_keys("o'brien") == {"OBRIEN"}
    assert name_keys("De La Cruz") == {"DELACRUZ", "CRUZ"}
    assert not name_keys("De La Cruz") & name_keys("De Souza")
    assert name_keys("") == frozenset()


# -- address ---------------------------------------------------------------------------------


def test_a_patient_reported_at_the_searcher_s_work_address_is_raised() -> None:
    there = Address.of("165 CAPITOL AVE.", "Hartford", "06106-1234")
    found = shared_address(JANE, search(), Patient("p1", addresses=(there,)))
    assert found is not None and "165 CAPITOL AVE" in found.text


def test_next_door_or_another_town_s_same_street_is_not_raised() -> None:
    next_door = Address.of("167 Capitol Avenue", "Hartford", "06106")
    elsewhere = Address.of("165 Capitol Avenue", "Bristol", "06010")
    patient = Patient("p1", addresses=(next_door, elsewhere))
    assert shared_address(JANE, search(), patient) is None
    assert shared_address(JANE, search(), None) is None
    nowhere = Searcher("a1", "Jane Doe", "prescriber", "Doe")
    assert shared_address(nowhere, search(), Patient("p1", addresses=(HOME,))) is None


def test_without_a_zip_the_city_decides() -> None:
    assert Address.of("165 Capitol Ave", "HARTFORD", "").same_place(HOME)
    assert not Address.of("165 Capitol Ave", "", "").same_place(HOME)


# -- hours -----------------------------------------------------------------------------------


OFFICE = [9] * 5 + [17] * 5 + [10, 11, 12, 13, 14, 15, 16, 10, 12, 14]  # hours of 20 searches
NIGHTS = [22] * 5 + [6] * 5 + [23, 0, 1, 2, 3, 4, 5, 23, 1, 3]


def history_of(hours: list[int], day: date = date(2026, 10, 1)) -> list[datetime]:
    """One search a day at each of ``hours``."""
    return [local(day + timedelta(days=n), hour) for n, hour in enumerate(hours)]


def judged_against(at: datetime, history: list[datetime]):
    """The search at ``at`` judged on ``history`` (the searches of the days before)."""
    return unusual_hour(search(at=at), usual_hours(history, POLICY, ZONE), POLICY, ZONE)


def office_hours(days: int = 20, day: date = date(2026, 10, 1)) -> list[datetime]:
    """The usual band is 09:00 to 17:00, however many of the 20 are kept."""
    return history_of(OFFICE[:days], day)


def test_the_usual_hours_are_the_shortest_band_holding_nine_tenths() -> None:
    assert usual_band([9, 10, 11, 17], 1.0) == (9, 8)
    assert usual_band([23, 1, 2, 22.5], 1.0) == (22.5, 3.5)  # through midnight
    assert hours_outside(3, (22.5, 3.5)) == 1.0
    assert hours_outside(21, (22.5, 3.5)) == 1.5
    assert hours_outside(0.5, (22.5, 3.5)) == 0


def test_a_search_three_hours_after_the_usual_hours_is_raised_a_minute_less_is_not() -> None:
    history = office_hours()
    found = judged_against(local(date(2026, 11, 10), 20), history)
    assert found is not None and found.numbers["usual_from"] == "09:00"
    assert found.numbers["usual_to"] == "17:00" and found.numbers["hours_outside"] == 3.0
    assert "Searched at 20:00, 3.0 hours outside their usual hours" in found.text
    assert judged_against(local(date(2026, 11, 10), 19, 59), history) is None
    assert judged_against(local(date(2026, 11, 10), 6), history) is not None
    assert judged_against(local(date(2026, 11, 10), 6, 1), history) is None


def test_a_night_shift_through_midnight_is_usual_and_noon_is_not() -> None:
    history = history_of(NIGHTS)  # 22:00 to 06:00

    def judged(hour: int, minute: int = 0):
        return judged_against(local(date(2026, 11, 10), hour, minute), history)

    assert judged(3) is None and judged(23, 30) is None
    found = judged(9)
    assert found is not None and (found.numbers["usual_from"], found.numbers["usual_to"]) == (
        "22:00", "06:00")  # fmt: skip
    assert judged(8, 59) is None
    assert judged(19) is not None and judged(19, 1) is None


def test_hours_are_judged_only_on_enough_searches_of_the_baseline_period() -> None:
    at = local(date(2026, 11, 10), 2)
    assert usual_hours(office_hours(19), POLICY, ZONE) is None
    assert judged_against(at, office_hours(19)) is None
    assert judged_against(at, office_hours(20)) is not None


def test_a_tenth_of_odd_hours_does_not_widen_the_usual_band() -> None:
    history = office_hours(18) + [local(date(2026, 10, 25), 2), local(date(2026, 10, 26), 3)]
    assert len(history) == 20
    found = judged_against(local(date(2026, 11, 10), 2, 30), history)
    assert found is not None and found.numbers["earlier_searches"] == 20


# -- daily volume ----------------------------------------------------------------------------

DAY = date(2026, 11, 10)


NO_BASELINE = DailyBaseline()


def today(count: int) -> list[Search]:
    return [search(n, NOON + timedelta(minutes=n)) for n in range(count)]


def days(*counts: int) -> DailyBaseline:
    return DailyBaseline.of(counts)


def test_a_day_at_the_minimum_is_raised_without_any_baseline_one_less_is_not() -> None:
    found = daily_volume(DAY, today(30), NO_BASELINE, NO_BASELINE, POLICY)
    assert found is not None and found.numbers["searches"] == 30 and len(found.search_ids) == 30
    assert daily_volume(DAY, today(29), NO_BASELINE, NO_BASELINE, POLICY) is None


def test_a_day_at_three_times_the_user_s_own_baseline_is_raised() -> None:
    own = days(10, 14, 12)  # 12 a day: 36 needed
    found = daily_volume(DAY, today(36), own, days(5, 5), POLICY)
    assert found is not None and found.numbers["own_baseline"] == 12.0
    assert "36 searches on 2026-11-10, where their usual day has 12.0" in found.text
    assert daily_volume(DAY, today(35), own, days(5, 5), POLICY) is None


def test_a_day_at_three_times_the_peers_baseline_is_raised() -> None:
    peers = days(15, 10, 20)  # 15 a day: 45 needed
    assert daily_volume(DAY, today(45), days(2), peers, POLICY) is not None
    assert daily_volume(DAY, today(44), days(2), peers, POLICY) is None


def test_the_daily_factor_and_minimum_are_the_policy_s() -> None:
    policy = MisusePolicy(daily_factor=2, daily_minimum=5)
    assert daily_volume(DAY, today(8), days(4), NO_BASELINE, policy) is not None
    assert daily_volume(DAY, today(7), days(4), NO_BASELINE, policy) is None


# -- repeated searches -----------------------------------------------------------------------


def searches_of_one(first_ago: timedelta, count: int = 4) -> list[Search]:
    """``count`` searches of one patient, the first ``first_ago`` before the last (NOON)."""
    step = first_ago / (count - 1)
    return [search(n, NOON - first_ago + step * n) for n in range(count)]


def test_four_searches_within_thirty_days_without_a_dispensation_are_raised() -> None:
    found = repeated_searches(JANE, "prescriber", searches_of_one(timedelta(days=29, hours=23)),
                              lambda: False, POLICY)  # fmt: skip
    assert found is not None and found.numbers["searches"] == 4 and len(found.times) == 4
    assert "DEA AB1234563" in found.text


def test_the_fourth_search_just_over_thirty_days_after_the_first_is_not_raised() -> None:
    spread = searches_of_one(timedelta(days=30, minutes=1))
    assert repeated_searches(JANE, "prescriber", spread, lambda: False, POLICY) is None
    three = searches_of_one(timedelta(days=2), count=3)
    assert repeated_searches(JANE, "prescriber", three, lambda: False, POLICY) is None


def test_a_dispensation_linking_the_searcher_to_the_patient_explains_the_searches() -> None:
    asked: list[bool] = []

    def linked() -> bool:
        asked.append(True)
        return True

    several = searches_of_one(timedelta(days=3))
    assert repeated_searches(JANE, "prescriber", several, linked, POLICY) is None
    assert asked == [True]
    asked.clear()
    assert repeated_searches(JANE, "prescriber", several[:3], linked, POLICY) is None
    assert asked == [], "a link is looked for only once the searches reach the threshold"


@pytest.mark.parametrize(("role", "raised"), [("prescriber", True), ("pharmacist", True),
                                              ("delegate", True), ("law_enforcement", False),
                                              ("administrator", False)])  # fmt: skip
def test_only_prescribers_pharmacists_and_delegates_are_expected_to_be_linked(role, raised):
    several = searches_of_one(timedelta(days=3))
    found = repeated_searches(JANE, role, several, lambda: False, POLICY)
    assert (found is not None) is raised


def test_a_searcher_with_no_numbers_on_record_is_told_as_such() -> None:
    nobody = Searcher("a1", "Pat Prescriber", "prescriber", "Prescriber")
    found = repeated_searches(nobody, "prescriber", searches_of_one(timedelta(days=1)),
                              lambda: False, POLICY)  # fmt: skip
    assert found is not None and "no DEA, NPI or NCPDP number on record" in found.text


def test_a_registration_form_s_numbers_are_compared_normalised() -> None:
    form = {"dea_number": "ab 1234563", "npi": "1234567893", "ncpdp": ""}
    assert searcher_identifiers(form) == {"DEA AB1234563", "NPI 1234567893"}


# -- once per period -------------------------------------------------------------------------


def test_a_signal_of_a_kind_is_due_again_thirty_days_after_the_last() -> None:
    assert due(None, NOON, POLICY)
    assert due(NOON - timedelta(days=30), NOON, POLICY)
    assert not due(NOON - timedelta(days=29, hours=23), NOON, POLICY)


def test_a_signal_s_id_is_the_same_on_every_replay() -> None:
    assert signal_id("surname", "a1", "p1", "s1") == signal_id("surname", "a1", "p1", "s1")
    assert signal_id("surname", "a1", "p1", "s1") != signal_id("address", "a1", "p1", "s1")


# -- the policy from the settings ------------------------------------------------------------


def test_the_policy_is_read_from_pmp_misuse_settings() -> None:
    assert MisusePolicy.from_settings(load_settings({})) == MisusePolicy()
    policy = MisusePolicy.from_settings(
        load_settings(
            {
                "PMP_MISUSE_REPEAT_SEARCHES": "6",
                "PMP_MISUSE_HOURS_COVERAGE": "80",
                "PMP_MISUSE_DAILY_FACTOR": "2.5",
            }
        )  # fmt: skip
    )
    assert policy.repeat_searches == 6 and policy.hours_coverage == 0.8
    assert policy.daily_factor == 2.5


@pytest.mark.parametrize(
    ("name", "value"),
    [("PMP_MISUSE_HOURS_MARGIN", "12"), ("PMP_MISUSE_HOURS_COVERAGE", "101"),
     ("PMP_MISUSE_REPEAT_SEARCHES", "1"), ("PMP_MISUSE_DAILY_FACTOR", "often"),
     ("PMP_MISUSE_QUIET_DAYS", "0"), ("PMP_MISUSE_BASELINE_DAYS", "-5")],
)  # fmt: skip
def test_a_bad_misuse_threshold_is_refused_naming_the_variable(name, value) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})
