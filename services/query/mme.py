"""Morphine milligram equivalents per day of one dispensation, by the CDC file's formula.

MME/day = strength per unit x (quantity / days supply) x conversion factor (CDC, "Calculating
Total Daily Dose of Opioids"). A fentanyl patch's days supply is normalised to patches x 3
(each patch is worn three days), whatever the pharmacy reported. Buprenorphine has no factor
in the file and is never counted; nor are non-opioids and drugs missing from the reference.
Methadone uses the file's factor (3) here; dose-dependent methods belong to the alert rules.
"""

from __future__ import annotations

from typing import Any

from services.submissions.drugs import is_patch_of_fentanyl, text_decimal


def mme_per_day(drug: dict[str, Any] | None, quantity: Any, days_supply: Any) -> float | None:
    """``drug`` as the submissions service records it (text decimals); None when not counted."""
    if not drug or drug.get("drug_class") != "opioid":
        return None
    strength, factor = (
        text_decimal(drug.get("strength_per_unit")),
        text_decimal(drug.get("mme_factor")),
    )
    units = text_decimal(quantity)
    if strength is None or factor is None or units is None or units <= 0:
        return None
    days = (
        units * 3
        if is_patch_of_fentanyl(drug.get("drug"), drug.get("form"))
        else text_decimal(days_supply)
    )
    if days is None or days <= 0:
        return None
    return float(round(strength * (units / days) * factor, 2))
