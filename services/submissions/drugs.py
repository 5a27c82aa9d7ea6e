"""The drug reference: controlled substance NDCs with their class, schedule and MME factor.

The data is the CDC's 2018 compilation (``reference/cdc-mme-2018/``, copied unchanged; see
``reference/README.md``). ``load_reference()`` reads it into a ``DrugReference``; ``get(ndc)``
answers the ``Drug`` of an NDC, or ``None`` when the NDC is not a monitored drug.

NDCs are kept as 11 digits (the 5-4-2 layout without dashes, as in the file and in ASAP
submissions). ``get`` accepts what people and pharmacy systems write:

- 11 digits, with or without dashes (``00093-6900-45``, ``00093690045``);
- the labelled 10-digit layouts with dashes, padded with one zero in the short segment:
  4-4-2 (``0093-6900-45``), 5-3-2 (``00093-690-45``), 5-4-1 (``00093-6900-5``);
- 10 digits without dashes. Which segment lost its leading zero cannot be told, so the three
  paddings are tried: the drug is answered when exactly one of them is in the reference, and
  ``None`` when none is or when more than one is (57 of the 10-digit forms of the 2018 file
  are ambiguous that way; a guess could attribute a prescription to the wrong drug).

MME/day (used by alerts) = strength_per_unit x (units / days supply) x mme_factor; for a
fentanyl patch the days supply is normalised to patches x 3 first, and buprenorphine has no
factor and is not counted (the workbook's rules, quoted in ``reference/cdc-mme-2018``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

DrugClass = Literal["opioid", "benzodiazepine", "muscle_relaxant", "stimulant", "sleep_drug"]

DEFAULT_FOLDER = Path(__file__).parent / "reference" / "cdc-mme-2018"

#: The workbook's ``Class`` column -> ``Drug.drug_class``. ``Misc`` holds only zolpidem.
_CLASSES: dict[str, DrugClass] = {
    "Opioid": "opioid",
    "Benzo": "benzodiazepine",
    "Muscle Relaxant": "muscle_relaxant",
    "Stimulant": "stimulant",
    "Misc": "sleep_drug",
}
_SCHEDULES = {"2": 2, "3": 3, "4": 4, "5": 5, "6": None}  # 6: not a controlled substance
_ACTING = {"LA": True, "SA": False, "": None}
_DASHED = re.compile(r"^([0-9]{4,5})-([0-9]{3,4})-([0-9]{1,2})$")


@dataclass(frozen=True, slots=True)
class Drug:
    ndc: str  #: 11 digits, 5-4-2 without dashes
    name: str  #: product name (PRODNME)
    generic_name: str  #: GENNME
    drug: str  #: the workbook's Drug column, e.g. "Oxycodone SA", "Fentanyl LA", "Methadone"
    drug_class: DrugClass
    schedule: int | None  #: federal schedule 2-5; None when not controlled (DEAClassCode 6)
    strength_per_unit: Decimal | None  #: None for the few rows without one (Sublocade)
    unit: str | None  #: UOM: MG, MG/ML, MCG/HR, ...; None when blank
    mme_factor: Decimal | None  #: opioids only; None for buprenorphine and non-opioids
    long_acting: bool | None  #: LongShortActing LA/SA (opioids); None when not given
    form: str | None  #: Master_Form: "Tablet", "Patch, Extended Release", ...


class DrugReference:
    """The drugs of the reference by 11-digit NDC.

    The rows are checked and converted when loaded but kept as tuples of ``Drug``'s fields;
    the frozen ``Drug`` is built the first time its NDC is asked for (building all 30,000
    would double the load time) and kept.
    """

    __slots__ = ("_drugs",)

    def __init__(self, drugs: dict[str, Drug | tuple]) -> None:
        self._drugs = drugs

    def _drug(self, ndc: str) -> Drug | None:
        value = self._drugs.get(ndc)
        if type(value) is tuple:
            value = self._drugs[ndc] = Drug(*value)
        return value

    def get(self, ndc: str) -> Drug | None:
        """The drug of ``ndc`` in any layout the module docstring lists; None if unknown."""
        found = None
        for candidate in ndc_candidates(ndc):
            drug = self._drug(candidate)
            if drug is not None:
                if found is not None:
                    return None  # an ambiguous plain 10-digit NDC: refuse to guess
                found = drug
        return found

    def __contains__(self, ndc: object) -> bool:
        return isinstance(ndc, str) and self.get(ndc) is not None

    def __len__(self) -> int:
        return len(self._drugs)

    def __iter__(self) -> Iterator[Drug]:
        for ndc in list(self._drugs):
            yield self._drug(ndc)


def normalise_ndc(ndc: str) -> str | None:
    """The 11-digit form of an unambiguous NDC; None for a plain 10-digit one or a non-NDC."""
    candidates = ndc_candidates(ndc)
    return candidates[0] if len(candidates) == 1 else None


def ndc_candidates(ndc: str) -> tuple[str, ...]:
    """The 11-digit NDCs ``ndc`` may stand for: one, three (plain 10 digits) or none."""
    value = ndc.strip()
    if value.isdigit() and value.isascii():
        if len(value) == 11:
            return (value,)
        if len(value) == 10:
            return ("0" + value, value[:5] + "0" + value[5:], value[:9] + "0" + value[9:])
        return ()
    match = _DASHED.match(value)
    if match is None:
        return ()
    labeler, product, package = match.groups()
    if len(labeler) + len(product) + len(package) not in (10, 11):
        return ()
    return (labeler.zfill(5) + product.zfill(4) + package.zfill(2),)


def load_reference(folder: Path | str = DEFAULT_FOLDER) -> DrugReference:
    """Every ``*.csv`` sheet of ``folder``; an unknown class/schedule or a repeated NDC raises."""
    drugs: dict[str, Drug | tuple] = {}
    decimals: dict[str, Decimal | None] = {"": None}
    texts: dict[str, str | None] = {"": None}

    def decimal(text: str) -> Decimal | None:
        value = decimals.get(text)
        if value is None and text not in decimals:
            value = decimals[text] = Decimal(text)
        return value

    def optional(text: str) -> str | None:
        value = texts.get(text)
        if value is None and text not in texts:
            value = texts[text] = text
        return value

    for path in sorted(Path(folder).glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as file:
            rows = csv.reader(file)
            header = next(rows)
            at = {column: index for index, column in enumerate(header)}
            i_ndc, i_name, i_generic = at["NDC"], at["PRODNME"], at["GENNME"]
            i_form, i_class, i_drug = at["Master_Form"], at["Class"], at["Drug"]
            i_acting, i_dea = at["LongShortActing"], at["DEAClassCode"]
            i_strength, i_unit = at["Strength_Per_Unit"], at["UOM"]
            i_mme = at.get("MME_Conversion_Factor")
            for line, row in enumerate(rows, start=2):
                try:
                    ndc = row[i_ndc]
                    if len(ndc) != 11 or not ndc.isdigit():
                        raise ValueError(f"NDC {ndc!r} is not 11 digits")
                    if ndc in drugs:
                        raise ValueError(f"NDC {ndc} appears twice")
                    drug_class = _CLASSES[row[i_class]]
                    if drug_class == "sleep_drug" and row[i_drug] != "Zolpidem":
                        raise ValueError(f"Misc drug {row[i_drug]!r} is not zolpidem")
                    drugs[ndc] = (  # Drug's fields, in order; made a Drug when first asked
                        ndc,
                        row[i_name],
                        row[i_generic],
                        row[i_drug],
                        drug_class,
                        _SCHEDULES[row[i_dea]],
                        decimal(row[i_strength].strip()),
                        optional(row[i_unit].strip()),
                        None if i_mme is None else decimal(row[i_mme].strip()),
                        _ACTING[row[i_acting]],
                        optional(row[i_form].strip()),
                    )
                except (KeyError, IndexError, ArithmeticError, ValueError) as exc:
                    raise ValueError(f"{path.name}, line {line}: {exc!r}") from exc
    return DrugReference(drugs)


def is_opioid(drug: Drug) -> bool:
    return drug.drug_class == "opioid"


def is_fentanyl_patch(drug: Drug) -> bool:
    """A transdermal fentanyl system: its days supply is normalised to patches x 3 for MME."""
    return is_patch_of_fentanyl(drug.drug, drug.form)


def is_patch_of_fentanyl(drug: str | None, form: str | None) -> bool:
    """The same, from the workbook's Drug and Master_Form as events carry them (text)."""
    return str(drug or "").startswith("Fentanyl") and str(form or "").startswith("Patch")


def text_decimal(value: object) -> Decimal | None:
    """A number as events carry it (text, like the file's); None when blank or not one."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def is_methadone(drug: Drug) -> bool:
    """Methadone: the file's factor is 3, but clinical MME uses a dose-dependent scale."""
    return drug.drug == "Methadone"


def is_buprenorphine(drug: Drug) -> bool:
    """Buprenorphine: no MME factor, never counted against MME thresholds."""
    return drug.drug == "Buprenorphine"
