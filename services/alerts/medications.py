"""A dispensation as the alert rules see it: when it was filled, which days it covers, its
class, its daily MME, and who prescribed and dispensed it.

Daily MME follows the CDC: strength per unit x (quantity / days supply) x conversion
factor. A fentanyl patch's days supply is normalised to patches x 3 (one patch is worn for
three days), so its covered days are normalised too. Methadone's factor depends on the
policy's method. Buprenorphine has no factor and is never counted; nor are non-opioids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.alerts.policy import AlertPolicy
from services.submissions.drugs import is_patch_of_fentanyl, text_decimal

FACTOR_2022 = Decimal("4.7")
#: CDC 2016 methadone conversion by total daily dose (mg/day): up to the bound, the factor.
SLIDING_2016 = ((Decimal(20), Decimal(4)), (Decimal(40), Decimal(8)), (Decimal(60), Decimal(10)))
ABOVE_60_2016 = Decimal(12)
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Medication:
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
    #: Daily MME in hundredths by methadone method ("" when the method does not matter).
    _cents: dict[str, int | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:  # computed once: every rule asks for it, often
        last = self.filled + timedelta(days=self.days - 1) if self.days else None
        object.__setattr__(self, "last_day", last)
        object.__setattr__(self, "_cents", {})

    @property
    def counts_for_mme(self) -> bool:
        return self.drug_class == "opioid" and self.drug != "Buprenorphine"

    @property
    def is_opioid(self) -> bool:
        return self.drug_class == "opioid"

    def mme_per_day(self, policy: AlertPolicy) -> Decimal | None:
        """None when not counted: not an opioid, buprenorphine, or numbers missing."""
        if not self.counts_for_mme or not self.days or self.strength is None:
            return None
        if self.quantity is None or self.quantity <= 0:
            return None
        factor = self.factor
        if self.drug == "Methadone":
            factor = methadone_factor(self.strength * self.quantity / self.days, policy)
        if factor is None:
            return None
        # Multiplied before dividing, so 25 mcg/hr x 10 patches x 7.2 / 30 days is 60 exactly.
        return self.strength * self.quantity * factor / self.days

    def mme_cents(self, policy: AlertPolicy) -> int | None:
        """Daily MME rounded half up to hundredths, as a whole number of them: what the rules
        add up day by day. Kept once worked out: a held person is evaluated again and again."""
        method = policy.methadone_method if self.drug == "Methadone" else ""
        if method not in self._cents:
            value = self.mme_per_day(policy)
            self._cents[method] = (
                None if value is None else int(value.quantize(CENT, ROUND_HALF_UP) / CENT)
            )
        return self._cents[method]


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
    """A submissions record (``DispensationsRecorded``/``DispensationRevised``)."""
    given, drug = record["dispensation"], record.get("drug") or {}
    quantity = text_decimal(given.get("quantity"))
    days = given.get("days_supply")
    patch = is_patch_of_fentanyl(drug.get("drug"), drug.get("form"))
    if patch and quantity is not None and quantity > 0:
        days = int(quantity * 3)
    strength = text_decimal(drug.get("strength_per_unit"))
    label = str(drug.get("name") or drug.get("generic_name") or f"NDC {given.get('ndc', '')}")
    if strength is not None:
        label = f"{label} {drug['strength_per_unit']} {drug.get('unit') or ''}".strip()
    return Medication(
        dispensation_id=record["dispensation_id"],
        filled=date.fromisoformat(given["date_filled"]),
        days=int(days) if days else None,
        drug_class=drug.get("drug_class"),
        drug=str(drug.get("drug") or ""),
        label=label,
        strength=strength,
        quantity=quantity,
        factor=text_decimal(drug.get("mme_factor")),
        prescriber=_key(record.get("prescriber") or {}, ("dea", "npi")),
        pharmacy=_key(record.get("pharmacy") or {}, ("ncpdp", "npi")),
    )


def _key(party: dict[str, Any], ids: tuple[str, ...]) -> str:
    for name in ids:
        if party.get(name):
            return f"{name.upper()} {party[name]}"
    name = " ".join(str(party.get(k) or "") for k in ("name", "last_name", "first_name")).strip()
    return name.upper() or "not reported"
