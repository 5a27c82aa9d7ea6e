"""A dispensation as the alert rules see it: when it was filled, which days it covers, its
class, its daily MME, and who prescribed and dispensed it.

Daily MME follows the CDC: strength per unit x (quantity / days supply) x conversion
factor. A fentanyl patch's days supply is normalised to patches x 3 (one patch is worn for
three days), so its covered days are normalised too. Methadone's factor depends on the
policy's method. Buprenorphine has no factor and is never counted; nor are non-opioids.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from services.alerts.policy import AlertPolicy
from services.submissions.drugs import is_patch_of_fentanyl, text_decimal

FACTOR_2022 = Decimal("4.7")
#: CDC 2016 methadone conversion by total daily dose (mg/day): up to the bound, the factor.
SLIDING_2016 = ((Decimal(20), Decimal(4)), (Decimal(40), Decimal(8)), (Decimal(60), Decimal(10)))
ABOVE_60_2016 = Decimal(12)
CENT = Decimal("0.01")


@dataclass(slots=True, eq=False)
class Medication:
    """Not frozen, though nothing changes one once made: a watch makes a million of them, and
    a frozen dataclass takes several times as long to make."""

    dispensation_id: str
    filled: date
    days: int | None  # days covered (normalised for patches); None when not reported
    drug_class: str | None  # opioid, benzodiazepine, muscle_relaxant, sleep_drug, stimulant
    drug: str  # the CDC workbook's Drug column: "Oxycodone SA", "Methadone", ...
    label: str  # what a clinician reads: product name and strength
    strength: Decimal | None  # per unit
    quantity: Decimal | None
    factor: Decimal | None  # the file's MME conversion factor
    prescriber: str  # DEA, else NPI, else name
    pharmacy: str  # NCPDP, else NPI, else name
    #: The last day this dispensation covers (filled counts as day one); None without days.
    last_day: date | None = field(init=False)
    is_opioid: bool = field(init=False, repr=False, compare=False)
    #: Counted for daily MME and long-term use: an opioid, but not buprenorphine (a treatment
    #: of opioid use disorder).
    counts_for_mme: bool = field(init=False, repr=False, compare=False)
    #: Daily MME in hundredths; methadone's depends on the policy, so it is kept with the
    #: method it was worked out for.
    _cents: int | None = field(init=False, repr=False, compare=False)
    _methadone: tuple[str, int | None] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Worked out once: a held person's dispensations are evaluated again and again.
        # A fill near the end of the calendar covers its days up to the calendar's last.
        last = _day_after(self.filled, self.days - 1) if self.days else None
        self.last_day = last
        self.is_opioid = self.drug_class == "opioid"
        self.counts_for_mme = self.is_opioid and self.drug != "Buprenorphine"
        fixed = None
        if self.counts_for_mme and self.drug != "Methadone" and self.factor is not None:
            fixed = _fixed_cents(self.strength, self.quantity, self.factor, self.days)
        self._cents = fixed
        self._methadone = None

    def mme_per_day(self, policy: AlertPolicy) -> Decimal | None:
        """None when not counted: not an opioid, buprenorphine, or numbers missing."""
        if not self.counts_for_mme or not self.days or self.strength is None:
            return None
        if self.quantity is None or self.quantity <= 0:
            return None
        factor = self.factor
        if self.drug == "Methadone":
            factor = methadone_factor(self.strength * self.quantity / self.days, policy)
        return None if factor is None else _mme(self.strength, self.quantity, factor, self.days)

    def mme_cents(self, policy: AlertPolicy) -> int | None:
        """Daily MME rounded half up to hundredths, as a whole number of them: what the rules
        add up day by day."""
        if self.drug != "Methadone":
            return self._cents
        method = policy.methadone_method
        if self._methadone is None or self._methadone[0] != method:
            self._methadone = (method, _in_cents(self.mme_per_day(policy)))
        return self._methadone[1]  # type: ignore[index]


def _day_after(day: date, days: int) -> date:
    return date.fromordinal(min(day.toordinal() + days, date.max.toordinal()))


def _in_cents(value: Decimal | None) -> int | None:
    return None if value is None else _cents_of(value)


@lru_cache(maxsize=4096)
def _cents_of(value: Decimal) -> int:
    return int(value.quantize(CENT, ROUND_HALF_UP) / CENT)


def _mme(strength: Decimal, quantity: Decimal, factor: Decimal, days: int) -> Decimal:
    # Multiplied before dividing, so 25 mcg/hr x 10 patches x 7.2 / 30 days is 60 exactly.
    return strength * quantity * factor / days


@lru_cache(maxsize=8192)
def _fixed_cents(
    strength: Decimal | None, quantity: Decimal | None, factor: Decimal, days: int | None
) -> int | None:
    """Daily MME in hundredths by the file's factor; the same few numbers recur."""
    if not days or strength is None or quantity is None or quantity <= 0:
        return None
    return _cents_of(_mme(strength, quantity, factor, days))


def methadone_factor(daily_mg: Decimal, policy: AlertPolicy) -> Decimal:
    if policy.methadone_method == "cdc_2022":
        return FACTOR_2022
    if policy.methadone_method == "cdc_2016":
        for bound, factor in SLIDING_2016:
            if daily_mg <= bound:
                return factor
        return ABOVE_60_2016
    return Decimal(3)


def from_record(record: dict[str, Any]) -> Medication:
    """A submissions record (``DispensationsRecorded``/``DispensationRevised``).

    What repeats from record to record (the drug, the quantity, the date, the prescriber and
    the pharmacy) is worked out once and shared: a watch holds a million of these."""
    given, drug = record["dispensation"], record.get("drug") or {}
    facts = _drug_facts(drug, given.get("ndc", ""))
    quantity = number(given.get("quantity"))
    days = given.get("days_supply")
    if facts.patch and quantity is not None and quantity > 0:
        days = int(quantity * 3)
    return Medication(
        dispensation_id=record["dispensation_id"],
        filled=_day(given["date_filled"]),
        days=int(days) if days else None,
        drug_class=facts.drug_class,
        drug=facts.drug,
        label=facts.label,
        strength=facts.strength,
        quantity=quantity,
        factor=facts.factor,
        prescriber=sys.intern(_key(record.get("prescriber") or {}, ("dea", "npi"))),
        pharmacy=sys.intern(_key(record.get("pharmacy") or {}, ("ncpdp", "npi"))),
    )


class _DrugFacts(NamedTuple):
    drug_class: str | None
    drug: str
    label: str
    strength: Decimal | None
    factor: Decimal | None
    patch: bool


def _drug_facts(drug: dict[str, Any], ndc: str) -> _DrugFacts:
    try:
        return _remembered_drug(tuple(drug.items()), ndc)
    except TypeError:  # a value that cannot be a key: work it out afresh
        return _work_out_drug(drug, ndc)


@lru_cache(maxsize=8192)
def _remembered_drug(items: tuple[tuple[str, Any], ...], ndc: str) -> _DrugFacts:
    return _work_out_drug(dict(items), ndc)


def _work_out_drug(drug: dict[str, Any], ndc: str) -> _DrugFacts:
    strength = text_decimal(drug.get("strength_per_unit"))
    label = str(drug.get("name") or drug.get("generic_name") or f"NDC {ndc}")
    if strength is not None:
        label = f"{label} {drug['strength_per_unit']} {drug.get('unit') or ''}".strip()
    return _DrugFacts(
        drug_class=drug.get("drug_class"),
        drug=str(drug.get("drug") or ""),
        label=label,
        strength=strength,
        factor=text_decimal(drug.get("mme_factor")),
        patch=is_patch_of_fentanyl(drug.get("drug"), drug.get("form")),
    )


def number(value: object) -> Decimal | None:
    """``text_decimal``, sharing one Decimal for each text (quantities and strengths recur)."""
    return _text_number(value) if isinstance(value, str) else text_decimal(value)


@lru_cache(maxsize=4096)
def _text_number(text: str) -> Decimal | None:
    return text_decimal(text)


@lru_cache(maxsize=4096)
def _day(text: str) -> date:
    return date.fromisoformat(text)


def _key(party: dict[str, Any], ids: tuple[str, ...]) -> str:
    for name in ids:
        if party.get(name):
            return f"{name.upper()} {party[name]}"
    name = " ".join(str(party.get(k) or "") for k in ("name", "last_name", "first_name")).strip()
    return name.upper() or "not reported"
