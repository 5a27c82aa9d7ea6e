"""Morphine milligram equivalents per day of one dispensation, by the CDC file's formula.

MME/day = strength per unit x (quantity / days supply) x conversion factor (CDC, "Calculating
Total Daily Dose of Opioids"). A fentanyl patch's days supply is normalised to patches x 3
(each patch is worn three days), whatever the pharmacy reported. Buprenorphine has no factor
in the file and is never counted; nor are non-opioids and drugs missing from the reference.
Methadone uses the file's factor (3) here; dose-dependent methods belong to the alert rules.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def mme_per_day(drug: dict[str, Any] | None, quantity: Any, days_supply: Any) -> float | None:
    """``drug`` as the submissions service records it (text decimals); None when not counted."""
    if not drug or drug.get("drug_class") != "opioid":
        return None
    strength, factor = _decimal(drug.get("strength_per_unit")), _decimal(drug.get("mme_factor"))
    units = _decimal(quantity)
    if strength is None or factor is None or units is None or units <= 0:
        return None
    days = units * 3 if is_fentanyl_patch(drug) else _decimal(days_supply)
    if days is None or days <= 0:
        return None
    return float(round(strength * (units / days) * factor, 2))


def is_fentanyl_patch(drug: dict[str, Any]) -> bool:
    return str(drug.get("drug") or "").startswith("Fentanyl") and str(
        drug.get("form") or ""
    ).startswith("Patch")


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
