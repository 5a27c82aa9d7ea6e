"""The clinical alert rules, computed by hand on both sides of every threshold and at the
edges of their windows, and two properties over generated histories."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.alerts.medications import Medication, from_record
from services.alerts.policy import AlertPolicy
from services.alerts.rules import _totals, evaluate

DAY0 = date(2026, 1, 1)
POLICY = AlertPolicy()


def med(n: int, day: int, days: int | None = 30, *, cls: str = "opioid",
        drug: str = "Oxycodone SA", strength: str = "10", qty: str = "120",
        factor: str | None = "1.5", prescriber: str = "DEA P1",
        pharmacy: str = "NCPDP F1") -> Medication:  # fmt: skip
    return Medication(
        dispensation_id=f"d{n}", filled=DAY0 + timedelta(days=day), days=days, drug_class=cls,
        drug=drug, label=f"{drug} {strength}", strength=Decimal(strength), quantity=Decimal(qty),
        factor=Decimal(factor) if factor else None, prescriber=prescriber, pharmacy=pharmacy,
    )  # fmt: skip


def mme(value: str, n: int, day: int, days: int = 30) -> Medication:
    """An opioid of exactly ``value`` MME/day: strength value, 30 units over 30 days, factor 1."""
    return med(n, day, days, strength=value, qty=str(days), factor="1")


def rules(meds, policy=POLICY) -> list[tuple[str, str, date, date]]:
    return [(f.rule, f.level, f.start, f.end) for f in evaluate(meds, policy)]


def day(n: int) -> date:
    return DAY0 + timedelta(days=n)


# -- the CDC's worked examples ---------------------------------------------------------


def test_oxycodone_10_mg_120_tablets_30_days_is_60_mme_a_day() -> None:
    assert med(1, 0).mme_per_day(POLICY) == 60


def test_fentanyl_25_mcg_hr_10_patches_is_60_mme_a_day_whatever_days_the_pharmacy_said() -> None:
    record = {
        "dispensation_id": "f1", "person_id": "p",
        "dispensation": {"date_filled": "2026-01-01", "quantity": "10", "days_supply": 10},
        "drug": {"drug": "Fentanyl LA", "form": "Patch, Extended Release", "name": "FENTANYL",
                 "drug_class": "opioid", "strength_per_unit": "25", "unit": "MCG/HR",
                 "mme_factor": "7.2"},
    }  # fmt: skip
    fentanyl = from_record(record)
    assert fentanyl.days == 30 and fentanyl.last_day == date(2026, 1, 30)
    assert fentanyl.mme_per_day(POLICY) == 60


@pytest.mark.parametrize(
    ("method", "expected"),
    [("file", 90), ("cdc_2016", 240), ("cdc_2022", Decimal("141"))],
)
def test_methadone_30_mg_a_day_per_method(method: str, expected) -> None:
    methadone = med(1, 0, drug="Methadone", strength="10", qty="90", factor="3")
    assert methadone.mme_per_day(replace(POLICY, methadone_method=method)) == expected


@pytest.mark.parametrize(("daily_mg", "factor"), [(20, 4), (21, 8), (40, 8), (41, 10),
                                                  (60, 10), (61, 12), (120, 12)])  # fmt: skip
def test_the_2016_methadone_scale_steps_at_its_bounds(daily_mg: int, factor: int) -> None:
    methadone = med(1, 0, drug="Methadone", strength="1", qty=str(daily_mg * 30), factor="3")
    policy = replace(POLICY, methadone_method="cdc_2016")
    assert methadone.mme_per_day(policy) == daily_mg * factor


@pytest.mark.parametrize(
    ("strength", "qty", "days", "method", "cents"),
    [("1", "1", 8, "file", 13),  # 0.125: half rounds up
     ("10", "1", 7, "file", 143),  # 1.428571...
     ("10", "90", 30, "cdc_2022", 14100)],  # methadone: by the policy's method
)  # fmt: skip
def test_the_rules_add_up_daily_mme_in_hundredths_rounded_half_up(
    strength: str, qty: str, days: int, method: str, cents: int
) -> None:
    drug = "Methadone" if method != "file" else "Oxycodone SA"
    m = med(
        1,
        0,
        days,
        drug=drug,
        strength=strength,
        qty=qty,
        factor="1" if drug != "Methadone" else "3",
    )
    policy = replace(POLICY, methadone_method=method)
    assert m.mme_cents(policy) == cents
    assert m.mme_cents(POLICY) == (cents if method == "file" else 9000)  # the file's 3


def test_buprenorphine_and_non_opioids_are_never_counted() -> None:
    bup = med(1, 0, drug="Buprenorphine", strength="900", factor=None)
    benzo = med(2, 0, cls="benzodiazepine", drug="Alprazolam", factor=None)
    assert bup.mme_per_day(POLICY) is None and benzo.mme_per_day(POLICY) is None
    assert not [
        f for f in evaluate([bup, benzo], POLICY) if f.rule in ("daily_mme", "long_term_opioid")
    ]


# -- 2. daily MME ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("49.99", []), ("50", ["caution"]), ("89.99", ["caution"]), ("90", ["alert"])],
)
def test_daily_mme_thresholds(value: str, expected: list[str]) -> None:
    found = [level for rule, level, *_ in rules([mme(value, 1, 0)]) if rule == "daily_mme"]
    assert found == expected


def test_overlapping_prescriptions_add_up_day_by_day() -> None:
    first, second = mme("45", 1, 0), mme("45", 2, 29)  # days 0-29 and 29-58: day 29 is 90
    assert rules([first, second]) == [("daily_mme", "alert", day(29), day(29))]
    adjacent = mme("45", 2, 30)  # starts the day after the first ends: never 90
    assert rules([first, adjacent]) == []


def test_an_mme_episode_spans_every_day_at_or_above_caution() -> None:
    found = evaluate([mme("60", 1, 0), mme("40", 2, 10, days=5)], POLICY)
    (episode,) = found
    assert (episode.start, episode.end, episode.level) == (day(0), day(29), "alert")
    assert episode.numbers["peak_mme"] == 100 and episode.numbers["peak_date"] == "2026-01-11"
    assert episode.numbers["days_at_alert"] == 5 and episode.numbers["days_at_caution"] == 30
    assert set(episode.dispensation_ids) == {"d1", "d2"}


# -- 1. multiple provider episode ------------------------------------------------------


def shopping(last_day: int, prescribers: int = 5, pharmacies: int = 5) -> list[Medication]:
    """Five fills spread from day 0 to ``last_day``, by distinct prescribers and pharmacies."""
    days = [0, 10, 20, 30, last_day]
    return [
        med(n, d, days=3, cls="benzodiazepine", drug="Alprazolam", factor=None,
            prescriber=f"DEA P{min(n, prescribers - 1)}",
            pharmacy=f"NCPDP F{min(n, pharmacies - 1)}")
        for n, d in enumerate(days)
    ]  # fmt: skip


def test_five_prescribers_and_five_pharmacies_within_90_days_is_an_episode() -> None:
    assert rules(shopping(last_day=89)) == [("multiple_providers", "alert", day(0), day(89))]


def test_the_fifth_fill_on_day_91_is_outside_the_window() -> None:
    assert rules(shopping(last_day=90)) == []


@pytest.mark.parametrize(("prescribers", "pharmacies"), [(4, 5), (5, 4)])
def test_four_of_either_is_not_an_episode(prescribers: int, pharmacies: int) -> None:
    assert rules(shopping(60, prescribers, pharmacies)) == []


def test_the_window_and_counts_are_the_administrators_to_change() -> None:
    strict = replace(POLICY, provider_prescribers=4, provider_pharmacies=4,
                     provider_window_days=60)  # fmt: skip
    assert [r for r, *_ in rules(shopping(last_day=89, prescribers=4, pharmacies=4),
                                 strict)] == ["multiple_providers"]  # fmt: skip
    shopping_days = shopping(last_day=89)
    assert rules(shopping_days, replace(POLICY, provider_window_days=89)) == []


# -- 3 and 4. overlaps -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("other_class", "rule"),
    [("benzodiazepine", "opioid_benzodiazepine"), ("muscle_relaxant", "opioid_sedative"),
     ("sleep_drug", "opioid_sedative")],
)  # fmt: skip
def test_one_shared_day_is_an_overlap_and_the_next_day_is_not(other_class, rule) -> None:
    opioid = mme("10", 1, 0)  # days 0-29
    touching = med(2, 29, cls=other_class, drug="Other", factor=None)
    after = med(2, 30, cls=other_class, drug="Other", factor=None)
    assert rules([opioid, touching]) == [(rule, "alert", day(29), day(29))]
    assert rules([opioid, after]) == []


def test_a_stimulant_does_not_overlap_anything() -> None:
    assert rules([mme("10", 1, 0), med(2, 5, cls="stimulant", drug="Amphetamine")]) == []


# -- 5. long-term opioid use -----------------------------------------------------------


def test_more_than_90_consecutive_days_is_long_term_and_90_is_not() -> None:
    ninety = [mme("10", 1, 0), mme("10", 2, 30), mme("10", 3, 60)]
    assert rules(ninety) == []
    ninety_one = ninety + [mme("10", 4, 90, days=1)]
    assert rules(ninety_one) == [("long_term_opioid", "caution", day(0), day(90))]


def test_gaps_up_to_the_policys_days_are_bridged() -> None:
    runs = lambda gap: [mme("10", 1, 0, days=60), mme("10", 2, 60 + gap, days=31)]  # noqa: E731
    assert [r for r, *_ in rules(runs(7))] == ["long_term_opioid"]  # 7-day gap bridged
    assert rules(runs(8)) == []
    assert [r for r, *_ in rules(runs(8), replace(POLICY, long_term_gap_days=8))] == [
        "long_term_opioid"
    ]


def test_days_supply_missing_counts_for_providers_but_not_for_days() -> None:
    assert mme("100", 1, 0).last_day and med(2, 0, days=None).last_day is None
    assert rules([med(2, 0, days=None, strength="100")]) == []


# -- properties ------------------------------------------------------------------------

medications = st.builds(
    lambda n, d, days, value, cls: mme(str(value), n, d, days) if cls == "opioid"
    else med(n, d, days, cls=cls, drug="Other", factor=None),
    st.integers(0, 10_000), st.integers(0, 400), st.integers(1, 90),
    st.integers(1, 120), st.sampled_from(["opioid", "opioid", "benzodiazepine", "sleep_drug"]),
)  # fmt: skip


def daily(meds: list[Medication]) -> dict[int, int]:
    """Each day's total MME in hundredths (days as ordinals)."""
    counted = [(m, m.mme_cents(POLICY)) for m in meds if m.mme_cents(POLICY) is not None]
    return {day: total for s, e, total in _totals(counted) for day in range(s, e + 1)}


@settings(max_examples=200, deadline=None)
@given(st.lists(medications, max_size=12, unique_by=lambda m: m.dispensation_id), medications)
def test_adding_a_dispensation_never_lowers_a_days_mme(history, added) -> None:
    if added.dispensation_id in {m.dispensation_id for m in history}:
        return
    before, after = daily(history), daily(history + [added])
    assert all(after.get(d, 0) >= total for d, total in before.items())


@settings(max_examples=200, deadline=None)
@given(st.lists(medications, max_size=12, unique_by=lambda m: m.dispensation_id), medications)
def test_an_alert_never_disappears_when_a_dispensation_is_added(history, added) -> None:
    if added.dispensation_id in {m.dispensation_id for m in history}:
        return
    covered = lambda findings: {(f.rule, d) for f in findings  # noqa: E731
                                for d in range((f.end - f.start).days + 1)
                                for d in [f.start + timedelta(days=d)]}  # fmt: skip
    before, after = evaluate(history, POLICY), evaluate(history + [added], POLICY)
    assert covered(before) <= covered(after)
