"""The Patient History Report's content: look-back, MME/day by day, the summary on top."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmp.day_steps import daily
from services.query import report
from services.query.access import SearchRefused, approved_supervisor, attested_purpose

TODAY = date(2026, 11, 22)
NO_ALERTS = {"engine": "connected", "items": [], "snoozed": [], "policy": {}}


def row(filled: date, days: int = 30, mme: float | None = None, **given) -> dict:
    return {
        "dispensation_id": given.get("dispensation_id", f"d-{filled}-{days}-{mme}"),
        "filled": filled, "written": filled, "drug": "OXYCODONE HCL", "strength": "10 MG",
        "quantity": "120", "days_supply": days, "mme_per_day": mme, "refill": 0,
        "prescriber": given.get("prescriber", "ROE, SAM (DEA AR1234563)"),
        "pharmacy": given.get("pharmacy", "MAIN ST PHARMACY (NCPDP 1234567)"),
        "payment": "Cash", "schedule": 2, "drug_class": "opioid",
    }  # fmt: skip


def test_the_look_back_ends_today_and_spans_whole_calendar_months() -> None:
    assert report.look_back(TODAY, 12) == (date(2025, 11, 23), TODAY)
    assert report.look_back(date(2026, 3, 31), 1) == (date(2026, 3, 1), date(2026, 3, 31))
    assert report.look_back(TODAY, 36)[0] == date(2023, 11, 23)


@pytest.mark.parametrize("months", [0, 37, -1])
def test_a_look_back_outside_one_to_36_months_is_refused(months: int) -> None:
    with pytest.raises(report.LookBackRefused, match="36 months"):
        report.look_back(TODAY, months)


def test_overlapping_supplies_add_up_day_by_day() -> None:
    first, last = date(2026, 11, 1), date(2026, 11, 10)
    steps = report.mme_steps(
        [row(date(2026, 11, 2), 3, 60.0), row(date(2026, 11, 4), 5, 30.0)], first, last
    )
    assert steps == [("2026-11-01", 0.0), ("2026-11-02", 60.0), ("2026-11-04", 90.0),
                     ("2026-11-05", 30.0), ("2026-11-09", 0.0)]  # fmt: skip
    points = daily(steps, first.isoformat(), last.isoformat())
    series = {date.fromisoformat(p["date"]): p["mme"] for p in points}
    assert len(series) == 10
    assert series[date(2026, 11, 1)] == 0
    assert series[date(2026, 11, 2)] == 60 and series[date(2026, 11, 3)] == 60
    assert series[date(2026, 11, 4)] == 90  # the third day of one, the first of the other
    assert series[date(2026, 11, 5)] == 30 and series[date(2026, 11, 8)] == 30
    assert series[date(2026, 11, 9)] == 0  # the five days ended on the 8th


@given(
    st.lists(
        st.tuples(
            st.integers(-120, 40),  # filled, days from the look-back's first
            st.integers(0, 90),  # days of supply (0: counted as one)
            st.one_of(st.none(), st.floats(0.5, 400, allow_nan=False).map(lambda x: round(x, 2))),
        ),
        max_size=12,
    )
)
def test_the_steps_give_back_every_day_of_the_day_by_day_sum(supplies) -> None:
    """The report sends MME/day as the days it changes; drawn again day by day, it is the
    sum of every supply lasting through each day, rounded as before."""
    first, last = date(2026, 1, 1), date(2026, 1, 31)
    rows = [row(first + timedelta(days=d), days, mme) for d, days, mme in supplies]
    points = daily(report.mme_steps(rows, first, last), first.isoformat(), last.isoformat())
    for n, point in enumerate(points):
        day = first + timedelta(days=n)
        total = 0.0
        for r in rows:
            if r["mme_per_day"] and report.is_active(r, day):
                total += r["mme_per_day"]
        assert point == {"date": day.isoformat(), "mme": pytest.approx(round(total, 2), abs=0.011)}
    assert len(points) == 31


def test_a_supply_filled_before_the_look_back_counts_inside_it_but_is_not_listed() -> None:
    earlier = row(date(2025, 11, 10), 30, 45.0)
    content = report.patient_history([], [earlier], TODAY, 12, NO_ALERTS)
    assert content["dispensations"] == []
    assert content["mme_steps"][:2] == [("2025-11-23", 45.0), ("2025-12-10", 0.0)]


def test_the_summary_counts_prescribers_pharmacies_active_supplies_and_mme() -> None:
    rows = [
        row(date(2026, 11, 10), 30, 60.0),
        row(date(2026, 11, 1), 30, 50.0, prescriber="DOE, ANN (DEA BD7654321)"),
        row(date(2026, 6, 1), 30, 200.0, pharmacy="ELM PHARMACY (NCPDP 7654321)"),
        row(date(2026, 1, 5), 10, None),
    ]
    content = report.patient_history([], rows, TODAY, 12, NO_ALERTS)
    summary = content["summary"]
    assert summary["dispensations"] == 4
    assert summary["prescribers"] == 2 and summary["pharmacies"] == 2
    assert summary["active_prescriptions"] == 2
    assert summary["current_mme"] == 110.0
    assert (summary["peak_mme"], summary["peak_mme_date"]) == (200.0, "2026-06-01")
    assert [d["filled"] for d in content["dispensations"]] == [
        "2026-11-10", "2026-11-01", "2026-06-01", "2026-01-05",
    ]  # fmt: skip  # newest first
    assert len(daily(content["mme_steps"], content["from"], content["to"])) == 365


@pytest.mark.parametrize(
    ("role", "purpose", "supervisor", "refusal"),
    [
        ("pharmacist", {"kind": "treating"}, None, "purpose: attest 'Patient at my pharmacy"),
        ("prescriber", {"kind": "investigation", "case_number": "C-1"}, None, "purpose"),
        ("law_enforcement", {"kind": "investigation", "case_number": " "}, None, "case_number"),
        ("delegate", {"kind": "dispensing"}, {"role": "prescriber"}, "purpose"),
        ("law_enforcement_mm", {"kind": "investigation", "case_number": "1"}, None, "may not"),
    ],
)
def test_each_role_attests_only_its_own_purpose(role, purpose, supervisor, refusal) -> None:
    with pytest.raises(SearchRefused, match=refusal):
        attested_purpose(role, purpose, supervisor)


def test_the_attested_purpose_is_recorded_in_the_policy_manuals_words() -> None:
    chosen = attested_purpose(
        "law_enforcement", {"kind": "investigation", "case_number": " 77 "}, None
    )
    assert chosen == {"kind": "investigation", "text": "Active investigation", "case_number": "77"}
    by_delegate = attested_purpose("delegate", {"kind": "dispensing"}, {"role": "pharmacist"})
    assert by_delegate["text"] == "Patient at my pharmacy counter"


def test_a_delegate_searches_only_for_a_supervisor_who_approved_them() -> None:
    pending = {"supervisor": {"account_id": "a", "name": "Sam Roe", "decision": "pending"}}
    with pytest.raises(PermissionError):
        approved_supervisor(pending)
    with pytest.raises(PermissionError):
        approved_supervisor(None)
    approved = {"supervisor": {"account_id": "a", "name": "Sam Roe", "role": "prescriber",
                               "decision": "approved"}}  # fmt: skip
    assert approved_supervisor(approved) == {"account_id": "a", "name": "Sam Roe",
                                             "role": "prescriber"}  # fmt: skip
