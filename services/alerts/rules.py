"""The five clinical alert rules, over one person's dispensations.

Each rule finds *episodes*: maximal date ranges in which its condition holds, with the
dispensations involved and the numbers a clinician checks. A dispensation covers the days
from its fill date through fill date + days supply - 1 (normalised for fentanyl patches).
Every rule works on those intervals, sorted once, so its cost grows with the person's
dispensations, not with the days they span.

1. ``multiple_providers``: at least N prescribers and M pharmacies among the dispensations
   filled within any window of W days (fills on day d and d + W - 1 are within the window).
2. ``daily_mme``: total MME/day of the opioids active on a day (buprenorphine never counted)
   at or above the caution level; the episode is an alert if any day reaches the alert level.
3. ``opioid_benzodiazepine``: any day on which an opioid and a benzodiazepine are active.
4. ``opioid_sedative``: any day on which an opioid and a muscle relaxant or a sleep drug are.
5. ``long_term_opioid``: opioids (not buprenorphine, a treatment of opioid use disorder)
   active on more than N consecutive days, gaps of up to G days bridged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import Any

from services.alerts.medications import CENT, Medication
from services.alerts.policy import METHADONE_METHODS, AlertPolicy

ONE_DAY = timedelta(days=1)

TITLES = {
    "multiple_providers": "Multiple provider episode",
    "daily_mme": "High daily MME",
    "opioid_benzodiazepine": "Opioid and benzodiazepine overlap",
    "opioid_sedative": "Opioid with muscle relaxant or sleep drug overlap",
    "long_term_opioid": "Long-term opioid use",
}
RULES = tuple(TITLES)
_in_order = attrgetter("filled", "dispensation_id")


@dataclass(frozen=True)
class Finding:
    """One episode of one rule, with its evidence."""

    rule: str
    level: str  # "alert" or "caution"
    start: date
    end: date
    summary: str  # the evidence in one sentence
    numbers: dict[str, Any] = field(default_factory=dict)
    dispensation_ids: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return TITLES[self.rule]

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "level": self.level,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "summary": self.summary,
            "numbers": self.numbers,
            "dispensation_ids": list(self.dispensation_ids),
        }


def evaluate(medications: Iterable[Medication], policy: AlertPolicy) -> list[Finding]:
    """Every episode of every rule, ordered by start date then rule."""
    meds = sorted(medications, key=_in_order)
    found = [
        *multiple_providers(meds, policy),
        *daily_mme(meds, policy),
        *overlap(meds, "opioid_benzodiazepine", {"benzodiazepine"}),
        *overlap(meds, "opioid_sedative", {"muscle_relaxant", "sleep_drug"}),
        *long_term_opioid(meds, policy),
    ]
    return sorted(found, key=lambda f: (f.start, RULES.index(f.rule)))


def multiple_providers(meds: Sequence[Medication], policy: AlertPolicy) -> list[Finding]:
    """Windows of W days starting at each fill, slid with running counts (linear in the
    fills); qualifying windows that overlap make one episode of consecutive fills."""
    if (
        len({m.prescriber for m in meds}) < policy.provider_prescribers
        or len({m.pharmacy for m in meds}) < policy.provider_pharmacies
    ):
        return []  # most people: too few in all their history for any window
    window = timedelta(days=policy.provider_window_days - 1)
    prescribers: dict[str, int] = {}
    pharmacies: dict[str, int] = {}
    episodes: list[list[int]] = []  # [first index, end index (exclusive)]
    j = 0
    for i, first in enumerate(meds):
        reach = first.filled + window
        while j < len(meds) and meds[j].filled <= reach:
            prescribers[meds[j].prescriber] = prescribers.get(meds[j].prescriber, 0) + 1
            pharmacies[meds[j].pharmacy] = pharmacies.get(meds[j].pharmacy, 0) + 1
            j += 1
        if (
            len(prescribers) >= policy.provider_prescribers
            and len(pharmacies) >= policy.provider_pharmacies
        ):
            if episodes and i < episodes[-1][1]:
                episodes[-1][1] = j
            else:
                episodes.append([i, j])
        for counts, key in ((prescribers, first.prescriber), (pharmacies, first.pharmacy)):
            if counts[key] == 1:
                del counts[key]
            else:
                counts[key] -= 1
    findings = []
    for i, j in episodes:
        involved = meds[i:j]
        start, end = involved[0].filled, involved[-1].filled
        p = len({m.prescriber for m in involved})
        f = len({m.pharmacy for m in involved})
        findings.append(
            Finding(
                "multiple_providers",
                "alert",
                start,
                end,
                f"{p} prescribers and {f} pharmacies between {start} and {end} "
                f"(threshold {policy.provider_prescribers} and {policy.provider_pharmacies} "
                f"within {policy.provider_window_days} days)",
                {"prescribers": p, "pharmacies": f, "window_days": policy.provider_window_days},
                tuple(m.dispensation_id for m in involved),
            )
        )
    return findings


def daily_mme(meds: Sequence[Medication], policy: AlertPolicy) -> list[Finding]:
    counted = []
    for m in meds:
        cents = m.mme_cents(policy)
        if cents is not None and m.last_day is not None:
            counted.append((m, cents))
    caution, alert = _in_cents(policy.mme_caution), _in_cents(policy.mme_alert)
    findings = []
    for first, last, segments in _runs(_totals(counted), caution):
        peak_n, peak_cents = max(((s[0], s[2]) for s in segments), key=lambda s: (s[1], -s[0]))
        peak, peak_day = Decimal(peak_cents).scaleb(-2), date.fromordinal(peak_n)
        alert_days = sum(e - s + 1 for s, e, t in segments if t >= alert)
        start, end = date.fromordinal(first), date.fromordinal(last)
        level = "alert" if peak_cents >= alert else "caution"
        involved = [m for m, _ in counted if m.filled <= end and m.last_day >= start]
        findings.append(
            Finding(
                "daily_mme",
                level,
                start,
                end,
                _mme_summary(
                    peak,
                    peak_day,
                    last - first + 1,
                    alert_days,
                    policy,
                    any(m.drug == "Methadone" for m in involved),
                ),
                {
                    "peak_mme": float(peak),
                    "peak_date": peak_day.isoformat(),
                    "days_at_caution": last - first + 1,
                    "days_at_alert": alert_days,
                    "caution": float(policy.mme_caution),
                    "alert": float(policy.mme_alert),
                    "methadone_method": policy.methadone_method,
                },
                tuple(m.dispensation_id for m in involved),
            )
        )
    return findings


def _in_cents(level: float) -> int:
    """The fewest hundredths of MME/day at or above ``level`` (totals are whole hundredths)."""
    return math.ceil(Decimal(str(level)) / CENT)


def _mme_summary(
    peak: Decimal, peak_day: date, days: int, alert_days: int, policy: AlertPolicy, methadone: bool
) -> str:
    said = f"Peak {peak:,.2f} MME/day on {peak_day}; {days} days at or above {policy.mme_caution:g}"
    if alert_days:
        said += f", {alert_days} of them at or above {policy.mme_alert:g}"
    if methadone:
        said += f". Methadone counted by: {METHADONE_METHODS[policy.methadone_method]}"
    return said


def overlap(meds: Sequence[Medication], rule: str, other_classes: set[str]) -> list[Finding]:
    opioids = [m for m in meds if m.is_opioid and m.last_day]
    others = [m for m in meds if m.drug_class in other_classes and m.last_day]
    if not opioids or not others:
        return []
    pairs = []  # days on which both are active, as intervals
    other_days = _union(others, gap=0)
    for a_start, a_end in _union(opioids, gap=0):
        for b_start, b_end in other_days:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start <= end:
                pairs.append((start, end))
    findings = []
    for start, end in _merge(sorted(pairs), gap=0):
        involved = [m for m in opioids + others if m.filled <= end and m.last_day >= start]
        involved.sort(key=_in_order)
        days = (end - start).days + 1
        findings.append(
            Finding(
                rule,
                "alert",
                start,
                end,
                f"{days} days with both active, {start} to {end}: "
                + "; ".join(sorted({m.label for m in involved})),
                {"overlap_days": days},
                tuple(m.dispensation_id for m in involved),
            )
        )
    return findings


def long_term_opioid(meds: Sequence[Medication], policy: AlertPolicy) -> list[Finding]:
    opioids = [m for m in meds if m.counts_for_mme and m.last_day]
    findings = []
    for start, end in _union(opioids, gap=policy.long_term_gap_days):
        days = (end - start).days + 1
        if days <= policy.long_term_days:
            continue
        involved = [m for m in opioids if m.filled <= end and m.last_day >= start]
        findings.append(
            Finding(
                "long_term_opioid",
                "caution",
                start,
                end,
                f"Opioids on {days} consecutive days, {start} to {end} (gaps of up to "
                f"{policy.long_term_gap_days} days bridged; threshold {policy.long_term_days})",
                {
                    "days": days,
                    "gap_days": policy.long_term_gap_days,
                    "threshold_days": policy.long_term_days,
                },
                tuple(m.dispensation_id for m in involved),
            )
        )
    return findings


def _union(meds: Iterable[Medication], gap: int) -> list[tuple[date, date]]:
    """The days covered by ``meds`` as intervals; gaps of up to ``gap`` days are bridged."""
    return _merge(sorted((m.filled, m.last_day) for m in meds), gap)  # type: ignore[misc]


def _merge(intervals: list[tuple[date, date]], gap: int) -> list[tuple[date, date]]:
    merged: list[tuple[date, date]] = []
    reach = timedelta(days=gap + 1)
    for start, end in intervals:
        if merged and start <= merged[-1][1] + reach:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _totals(counted: list[tuple[Medication, int]]) -> list[tuple[int, int, int]]:
    """Daily MME as segments of equal total: (first day, last day, total), days as ordinals
    and totals in hundredths, total > 0."""
    changes: dict[int, int] = {}
    for m, value in counted:
        first, after = m.filled.toordinal(), m.last_day.toordinal() + 1  # type: ignore[union-attr]
        changes[first] = changes.get(first, 0) + value
        changes[after] = changes.get(after, 0) - value
    segments = []
    total = 0
    days = sorted(changes)
    for day, following in zip(days, days[1:], strict=False):
        total += changes[day]
        if total > 0:
            segments.append((day, following - 1, total))
    return segments


def _runs(
    segments: list[tuple[int, int, int]], threshold: int
) -> list[tuple[int, int, list[tuple[int, int, int]]]]:
    """Maximal runs of consecutive days whose segments' totals reach ``threshold``."""
    runs: list[tuple[int, int, list]] = []
    for start, end, total in segments:
        if total < threshold:
            continue
        if runs and start == runs[-1][1] + 1:
            runs[-1][2].append((start, end, total))
            runs[-1] = (runs[-1][0], end, runs[-1][2])
        else:
            runs.append((start, end, [(start, end, total)]))
    return runs
