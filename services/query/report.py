"""The Patient History Report: a person's dispensations over a look-back, led by what a
clinician needs first (alerts, then the summary and the MME/day chart, then the detail).

Pure functions over rows of the patient history read model; the clock is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from pmp.day_steps import Step
from pmp.months import add_months

DEFAULT_MONTHS = 12
MAX_MONTHS = 36
SUPPLY_BEFORE = 90  # days: the longest supply counted into the first days of a look-back


class LookBackRefused(ValueError):
    """The look-back asked for is outside 1 to 36 months."""


def look_back(today: date, months: int) -> tuple[date, date]:
    """The first and last day of a look-back of ``months`` calendar months ending today."""
    if not isinstance(months, int) or not 1 <= months <= MAX_MONTHS:
        raise LookBackRefused(f"months: the look-back is 1 to {MAX_MONTHS} months.")
    return add_months(today, -months) + timedelta(days=1), today


def is_active(row: dict[str, Any], day: date) -> bool:
    """Whether the supply of a dispensation lasts through ``day`` (filled that day counts)."""
    days = row.get("days_supply") or 0
    return row["filled"] <= day < row["filled"] + timedelta(days=max(days, 1))


def mme_steps(rows: Iterable[dict[str, Any]], first: date, last: date) -> list[Step]:
    """Total MME/day from ``first`` to ``last`` as the days it changes (overlapping supplies
    add up): ``(ISO date, MME/day)``, the first day always included. ``day_steps.daily``
    gives every day's value."""
    span = (last - first).days + 1
    change: dict[int, float] = {}
    for row in rows:
        mme = row.get("mme_per_day")
        if not mme:
            continue
        start = max((row["filled"] - first).days, 0)
        end = min((row["filled"] - first).days + max(row.get("days_supply") or 0, 1), span)
        if start < end:
            change[start] = change.get(start, 0.0) + mme
            change[end] = change.get(end, 0.0) - mme
    value_from: dict[int, float] = {0: 0.0}  # day 0 first: 0 unless a supply began on it
    total = 0.0
    for offset in sorted(change):
        total += change[offset]
        if offset < span:
            value_from[offset] = round(max(total, 0.0), 2)
    steps: list[Step] = []
    for offset, value in value_from.items():
        if not steps or value != steps[-1][1]:
            steps.append(((first + timedelta(days=offset)).isoformat(), value))
    return steps


def summary(rows: Sequence[dict[str, Any]], steps: list[Step], today: date):
    """The figures on top: how many prescribers, pharmacies, active prescriptions; MME/day
    (the peak's date is the first day of its highest value)."""
    peak = max(steps, key=lambda step: step[1], default=None)
    return {
        "dispensations": len(rows),
        "prescribers": len({r["prescriber"] for r in rows}),
        "pharmacies": len({r["pharmacy"] for r in rows}),
        "active_prescriptions": sum(1 for r in rows if is_active(r, today)),
        "current_mme": steps[-1][1] if steps else 0.0,
        "peak_mme": peak[1] if peak else 0.0,
        "peak_mme_date": peak[0] if peak and peak[1] > 0 else None,
    }


def dispensation_line(row: dict[str, Any], today: date) -> dict[str, Any]:
    """One row of the report's table, JSON-ready."""
    return {
        "dispensation_id": row["dispensation_id"],
        "filled": row["filled"].isoformat(),
        "written": row["written"].isoformat() if row["written"] else None,
        "drug": row["drug"],
        "strength": row["strength"],
        "quantity": row["quantity"],
        "days_supply": row["days_supply"],
        "mme_per_day": row["mme_per_day"],
        "refill": row["refill"],
        "prescriber": row["prescriber"],
        "pharmacy": row["pharmacy"],
        "payment": row["payment"],
        "schedule": row["schedule"],
        "drug_class": row["drug_class"],
        "active": is_active(row, today),
    }


def patient_history(
    patients: list[dict[str, Any]],
    rows: Sequence[dict[str, Any]],
    today: date,
    months: int,
    alerts: dict[str, Any],
) -> dict[str, Any]:
    """The report's content. ``rows``: the persons' dispensations not voided, filled since
    ``SUPPLY_BEFORE`` days before the look-back (a supply that began earlier still counts
    towards the MME/day of its days inside the look-back)."""
    first, last = look_back(today, months)
    shown = sorted(
        (r for r in rows if first <= r["filled"] <= last),
        key=lambda r: (r["filled"], r["dispensation_id"]),
        reverse=True,
    )
    steps = mme_steps(rows, first, last)
    return {
        "months": months,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "patients": patients,
        "alerts": alerts,
        "summary": summary(shown, steps, today),
        "mme_steps": steps,
        "dispensations": [dispensation_line(r, today) for r in shown],
    }
