"""Demo data: a synthetic state's ASAP 4.2 files, with patients a PMP should flag.

``write_demo_files(folder, seed, patients=N, months=M)`` writes one file per pharmacy per
month (a zero report when a pharmacy dispensed nothing that month) plus one zero report file
of a pharmacy that never dispenses controlled substances, and ``manifest.json`` describing
what is in them; it returns the ASAP files' paths (the manifest is not among them; read it with
``load_manifest(folder)``). The same arguments give the same files, byte for byte.

The population (``identities.py``, ``names.py``): every person has a home pharmacy, where
their record is written as it is; another pharmacy writes it, now and then, with one change
(a nickname, a typo, day and month swapped, no middle name, a new address...), as real
pharmacies do. No two persons share a written (first, last, DOB, ZIP).

Who gets what (``manifest["persons"][i]["kind"]``):

- ``ordinary`` (most): a profile of ``opioid_acute`` (one or two short opioid fills of 3-7
  days at 18-40 MME/day, at least 60 days apart), ``benzodiazepine``, ``stimulant`` or
  ``sleep_drug`` (monthly or occasional fills); at most two prescribers and two pharmacies.
  None of them meets any of the risks below.
- ``many_providers``: 6-8 short opioid fills within 90 days, each from another prescriber
  and another pharmacy (>= 5 of each within 90 days), often with a name variant, cash.
- ``high_mme``: oxycodone 30 mg x 180 / 30 days (270 MME/day) or hydromorphone 4 mg x 180 /
  30 days (96 MME/day), one or two fills.
- ``opioid_benzo``: a 30-day benzodiazepine fill and a short opioid fill during it.
- ``long_term_opioid``: 30-day opioid fills back to back for 4 months or more (> 90
  consecutive days covered) at 20-45 MME/day.

Each risky kind gets ``max(1, patients // 40)`` persons. MME/day follows ``drugs.py``:
strength_per_unit x quantity / days supply x mme_factor. NDCs are real NDCs of the CDC
reference, of tablets of the drug and strength named in ``PRODUCTS``.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.submissions.asap_writer import AsapWriter
from services.submissions.drugs import DrugReference, load_reference

# ``_Maker`` makes the persons and their variants; it is the generator behind ``generate``.
from services.submissions.identities import _Maker
from services.submissions.names import LAST_NAMES, STATE, STREET_NAMES
from services.submissions.patients import Patient

__all__ = [
    "PRODUCTS",
    "RISK_KINDS",
    "START",
    "load_manifest",
    "write_demo_files",
]

START = date(2024, 1, 1)
RISK_KINDS = ("many_providers", "high_mme", "opioid_benzo", "long_term_opioid")
MANIFEST = "manifest.json"

#: product key -> (the reference's Drug column, strength per unit in MG); tablets only.
PRODUCTS: dict[str, tuple[str, str]] = {
    "hydrocodone_5": ("Hydrocodone SA", "5"),
    "hydrocodone_10": ("Hydrocodone SA", "10"),
    "oxycodone_5": ("Oxycodone SA", "5"),
    "oxycodone_10": ("Oxycodone SA", "10"),
    "oxycodone_30": ("Oxycodone SA", "30"),
    "hydromorphone_4": ("Hydromorphone SA", "4"),
    "tramadol_50": ("Tramadol SA", "50"),
    "codeine_30": ("Codeine", "30"),
    "alprazolam_0.5": ("Alprazolam", "0.5"),
    "lorazepam_1": ("Lorazepam", "1"),
    "clonazepam_0.5": ("Clonazepam", "0.5"),
    "methylphenidate_10": ("Methylphenidate", "10"),
    "zolpidem_10": ("Zolpidem", "10"),
}
#: Short opioid fills: (product, units a day); 18-40 MME/day.
_ACUTE = (("hydrocodone_5", 4), ("hydrocodone_10", 4), ("oxycodone_5", 4), ("tramadol_50", 4))
_ACUTE += (("codeine_30", 4),)
_BENZOS = ("alprazolam_0.5", "lorazepam_1", "clonazepam_0.5")
#: Variant kinds (``identities.VARIANT_KINDS``) a pharmacy's record may show, and weights.
_VARIANTS = {
    "nickname": 10,
    "typo_first": 8,
    "typo_last": 8,
    "swapped_dob": 6,
    "no_middle": 8,
    "moved": 5,
    "hyphenated": 3,
}
_PROFILES = {"opioid_acute": 45, "benzodiazepine": 25, "stimulant": 15, "sleep_drug": 15}
_AREA_CODES = ("614", "216", "513", "419", "330", "937", "740", "440", "234", "567", "220")


# --------------------------------------------------------------------------- identifiers


def npi_check_digit(nine: str) -> str:
    total = 24  # the 80840 prefix
    for i, ch in enumerate(reversed(nine)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def dea_check_digit(six: str) -> str:
    d = [int(c) for c in six]
    return str((d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10)


class _Ids:
    """Unique NPIs, DEA numbers and NCPDP numbers drawn from the seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def _unique(self, make) -> str:
        while True:
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value

    def npi(self) -> str:
        def make():
            nine = "1" + "".join(self.rng.choice("0123456789") for _ in range(8))
            return nine + npi_check_digit(nine)

        return self._unique(make)

    def dea(self, registrant: str, name: str) -> str:
        second = name[:1].upper() if name[:1].isalpha() else "9"

        def make():
            six = "".join(self.rng.choice("0123456789") for _ in range(6))
            return registrant + second + six + dea_check_digit(six)

        return self._unique(make)

    def ncpdp(self) -> str:
        return self._unique(lambda: "36" + f"{self.rng.randrange(100000):05d}")  # 36: Ohio

    def phone(self) -> str:
        rng = self.rng
        return rng.choice(_AREA_CODES) + str(rng.randint(200, 999)) + f"{rng.randrange(10000):04d}"


# --------------------------------------------------------------------------- the plan


@dataclass
class _Person:
    id: str
    patient: Patient
    kind: str
    profile: str
    home: int  # pharmacy index
    doctor: int  # prescriber index
    variant_rate: float
    records: dict[int, dict[str, Any]] = field(default_factory=dict)  # pharmacy -> PAT


@dataclass
class _Rx:
    person: int
    pharmacy: int
    prescriber: int
    product: str
    units: int  # a day
    days: int
    dates: list[date]
    written: date
    refills: int
    payment: str
    number: str = ""


def _month_starts(start: date, months: int) -> list[date]:
    out = []
    y, m = start.year, start.month
    for _ in range(months + 1):
        out.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


class _Demo:
    def __init__(self, seed: int, patients: int, months: int, start: date) -> None:
        if patients < 8:
            raise ValueError("patients must be at least 8 (two per risky kind)")
        if months < 4:
            raise ValueError("months must be at least 4 (long-term use needs over 90 days)")
        self.rng = random.Random(seed)
        self.maker = _Maker(self.rng)
        self.ids = _Ids(self.rng)
        self.seed, self.months = seed, months
        self.bounds = _month_starts(date(start.year, start.month, 1), months)
        self.first, self.last = self.bounds[0], self.bounds[-1] - timedelta(days=1)
        self.days = (self.last - self.first).days + 1
        self.reference = load_reference()
        self.ndcs = self._ndcs(self.reference)
        n_pharmacies = max(6, patients // 40)
        self.pharmacies = [self._pharmacy() for _ in range(n_pharmacies + 1)]  # last: zero
        self.active = n_pharmacies
        self.weights = [self.rng.choice((1, 2, 3, 5)) for _ in range(n_pharmacies)]
        self.stock = [
            {k: self.rng.choice(v) for k, v in sorted(self.ndcs.items())} for _ in self.pharmacies
        ]
        self.prescribers = [self._prescriber() for _ in range(max(8, patients // 15))]
        self.owner: dict[tuple, str] = {}  # written (first, last, dob, zip) -> person id
        self.persons: list[_Person] = []
        self.rxs: list[_Rx] = []
        per_kind = max(1, patients // 40)
        kinds = [k for k in RISK_KINDS for _ in range(per_kind)]
        kinds += ["ordinary"] * (patients - len(kinds))
        self.rng.shuffle(kinds)
        for i, kind in enumerate(kinds):
            self._plan(i, kind)
        self._number()

    # ---------------------------------------------------------------- reference
    @staticmethod
    def _ndcs(reference: DrugReference) -> dict[str, list[str]]:
        wanted = {(d, Decimal(s)): k for k, (d, s) in PRODUCTS.items()}
        found: dict[str, list[str]] = defaultdict(list)
        for drug in reference:
            key = wanted.get((drug.drug, drug.strength_per_unit))
            if key and drug.form == "Tablet" and drug.unit == "MG" and drug.schedule:
                found[key].append(drug.ndc)
        missing = sorted(set(PRODUCTS) - set(found))
        if missing:
            raise LookupError(f"no NDC in the drug reference for {', '.join(missing)}")
        return {k: sorted(v)[:50] for k, v in found.items()}

    # ---------------------------------------------------------------- parties
    def _pharmacy(self) -> dict[str, Any]:
        rng, ids = self.rng, self.ids
        street, city, zip_code = self.maker.address()
        style = rng.randrange(4)
        if style == 0:
            name = f"{city} Family Pharmacy"
        elif style == 1:
            name = f"{rng.choice(STREET_NAMES)} Street Drug"
        elif style == 2:
            name = f"{rng.choice(LAST_NAMES)} Pharmacy"
        else:
            name = f"Community Pharmacy of {city}"
        return {
            "npi": ids.npi(),
            "ncpdp": ids.ncpdp(),
            "dea": ids.dea(rng.choice("BF"), name),
            "name": name.upper()[:60],
            "address_1": street.upper(),
            "city": city.upper(),
            "state": STATE,
            "zip": zip_code,
            "phone": ids.phone(),
            "_pharmacist": ids.npi(),
            "_upper": rng.random() < 0.6,  # the pharmacy system writes names in capitals
        }

    def _prescriber(self) -> dict[str, Any]:
        rng = self.rng
        gender = rng.choice("FM")
        first = self.maker.first_name(gender)
        last = rng.choice(LAST_NAMES)
        registrant = rng.choices("ABFM", (5, 2, 2, 3))[0]  # M: nurse practitioner, PA
        return {
            "npi": self.ids.npi(),
            "dea": self.ids.dea(registrant, last),
            "state_license": f"35.{rng.randrange(1, 200000):06d}",
            "last_name": last.upper(),
            "first_name": first.upper(),
        }

    # ---------------------------------------------------------------- persons
    def _record(self, person: _Person, pharmacy: int) -> dict[str, Any]:
        """The PAT dict ``pharmacy`` writes for ``person`` (the same every time)."""
        if pharmacy in person.records:
            return person.records[pharmacy]
        rng = self.rng
        written = person.patient
        if pharmacy != person.home and rng.random() < person.variant_rate:
            kinds, weights = zip(*_VARIANTS.items(), strict=True)
            variant = self.maker.variant(written, rng.choices(kinds, weights)[0])
            if variant is not None and self._claim(variant, person.id):
                written = variant
        upper = self.pharmacies[pharmacy]["_upper"]
        case = str.upper if upper else str
        pat = {
            "last_name": case(written.last_name),
            "first_name": case(written.first_name),
            "middle_name": case(written.middle_name[:1]) if written.middle_name else None,
            "address_1": case(written.address),
            "city": case(written.city),
            "state": written.state,
            "zip": written.zip,
            "birth_date": written.dob,
            "gender": written.gender,
            "species": "01",
        }
        person.records[pharmacy] = pat
        return pat

    @staticmethod
    def _identity(p: Patient) -> tuple:
        return (p.first_name.upper(), p.last_name.upper(), p.dob, p.zip)

    def _claim(self, p: Patient, person_id: str) -> bool:
        owner = self.owner.setdefault(self._identity(p), person_id)
        return owner == person_id

    def _new_person(self, i: int, kind: str) -> _Person:
        profile = kind
        if kind == "ordinary":
            profile = self.rng.choices(list(_PROFILES), list(_PROFILES.values()))[0]
        age = 6 if profile == "stimulant" else 18  # the youngest age at the first day
        latest = self.first.replace(year=self.first.year - age)
        while True:
            patient = self.maker.person()
            if patient.dob <= latest and self._claim(patient, f"P{i:06d}"):
                break
        rate = 0.7 if kind == "many_providers" else 0.5
        return _Person(
            id=f"P{i:06d}",
            patient=patient,
            kind=kind,
            profile=profile,
            home=self.rng.choices(range(self.active), self.weights)[0],
            doctor=self.rng.randrange(len(self.prescribers)),
            variant_rate=rate,
        )

    # ---------------------------------------------------------------- fills
    def _day(self, lo: int, hi: int) -> date:
        """A date from ``lo`` days after the first day to ``hi`` days before the last."""
        return self.first + timedelta(days=self.rng.randint(lo, self.days - 1 - hi))

    def _rx(
        self,
        p: int,
        pharmacy: int,
        prescriber: int,
        product: str,
        units: int,
        days: int,
        dates: list[date],
        payment: str,
    ) -> None:
        rng = self.rng
        schedule = self.reference.get(self.stock[pharmacy][product]).schedule
        if schedule == 2:  # no refills: a new prescription for every fill
            for d in dates:
                written = d - timedelta(days=rng.randint(0, 3))
                self.rxs.append(
                    _Rx(p, pharmacy, prescriber, product, units, days, [d], written, 0, payment)
                )
            return
        for chunk in (dates[i : i + 6] for i in range(0, len(dates), 6)):
            written = chunk[0] - timedelta(days=rng.randint(0, 3))
            refills = max(len(chunk) - 1, rng.choice((0, 1, 2, 5)))
            self.rxs.append(
                _Rx(p, pharmacy, prescriber, product, units, days, chunk, written, refills, payment)
            )

    def _other(self, n: int, but: int, k: int = 1) -> list[int]:
        return self.rng.sample([i for i in range(n) if i != but], k)

    def _plan(self, i: int, kind: str) -> None:
        rng = self.rng
        person = self._new_person(i, kind)
        self.persons.append(person)
        home, doctor = person.home, person.doctor
        pay = rng.choices(("04", "02", "03", "01"), (6, 2, 2, 1))[0]
        if kind == "many_providers":
            n = min(rng.randint(6, 8), self.active, len(self.prescribers))
            gap = rng.randint(8, 80 // (n - 1))
            start = self._day(0, (n - 1) * gap)
            pharmacies = [home, *self._other(self.active, home, n - 1)]
            prescribers = [doctor, *self._other(len(self.prescribers), doctor, n - 1)]
            for k in range(n):
                product, units = rng.choice(_ACUTE[:3])
                days = rng.randint(4, 7)
                self._rx(
                    i,
                    pharmacies[k],
                    prescribers[k],
                    product,
                    units,
                    days,
                    [start + timedelta(days=k * gap)],
                    rng.choice(("01", "01", pay)),
                )
        elif kind == "high_mme":
            product = rng.choices(("oxycodone_30", "hydromorphone_4"), (3, 1))[0]
            n = rng.randint(1, 2)
            start = self._day(0, 30 * (n - 1))
            dates = [start + timedelta(days=30 * k) for k in range(n)]
            self._rx(i, home, doctor, product, 6, 30, dates, pay)
        elif kind == "opioid_benzo":
            benzo = rng.choice(_BENZOS)
            start = self._day(0, 20)
            self._rx(i, home, doctor, benzo, rng.randint(1, 2), 30, [start], pay)
            product, units = rng.choice(_ACUTE[:3])
            opioid_doctor = (
                doctor if rng.random() < 0.5 else self._other(len(self.prescribers), doctor)[0]
            )
            self._rx(
                i,
                home,
                opioid_doctor,
                product,
                units,
                rng.randint(5, 7),
                [start + timedelta(days=rng.randint(0, 20))],
                pay,
            )
        elif kind == "long_term_opioid":
            n = rng.randint(4, max(4, min(6, self.days // 30)))
            start = self._day(0, 30 * (n - 1))
            dates = [start + timedelta(days=30 * k) for k in range(n)]
            product, units = rng.choice(
                (("hydrocodone_10", 4), ("oxycodone_10", 3), ("tramadol_50", 4))
            )
            self._rx(i, home, doctor, product, units, 30, dates, pay)
        elif person.profile == "opioid_acute":
            n = 1 if self.days < 70 or rng.random() < 0.6 else 2
            first = self._day(0, 60 * (n - 1))
            dates = [first]
            if n == 2:
                dates.append(self._day((first - self.first).days + 60, 0))
            for d in dates:
                product, units = rng.choice(_ACUTE)
                prescriber = (
                    doctor if rng.random() < 0.6 else self._other(len(self.prescribers), doctor)[0]
                )
                pharmacy = home if rng.random() < 0.85 else self._other(self.active, home)[0]
                # at most two pharmacies and two prescribers: two fills
                self._rx(
                    i, pharmacy, prescriber, product, units, rng.choice((3, 4, 5, 7)), [d], pay
                )
        else:
            product = {
                "benzodiazepine": rng.choice(_BENZOS),
                "stimulant": "methylphenidate_10",
                "sleep_drug": "zolpidem_10",
            }[person.profile]
            n = rng.randint(1, self.months)
            start = self._day(0, 30 * (n - 1))
            dates = [start + timedelta(days=30 * k) for k in range(n)]
            self._rx(i, home, doctor, product, rng.randint(1, 2), 30, dates, pay)

    def _number(self) -> None:
        """Prescription numbers, per pharmacy, in order of the first fill."""
        counters = [self.rng.randint(100000, 900000) for _ in self.pharmacies]
        order = sorted(range(len(self.rxs)), key=lambda j: (self.rxs[j].dates[0], j))
        for j in order:
            rx = self.rxs[j]
            counters[rx.pharmacy] += self.rng.randint(1, 9)
            rx.number = str(counters[rx.pharmacy])

    # ---------------------------------------------------------------- output
    def fills(self):
        """(pharmacy, month index, dict of the group) for every fill."""
        for rx in self.rxs:
            person = self.persons[rx.person]
            pat = self._record(person, rx.pharmacy)
            ndc = self.stock[rx.pharmacy][rx.product]
            pharmacy = self.pharmacies[rx.pharmacy]
            prescriber = self.prescribers[rx.prescriber]
            for refill, d in enumerate(rx.dates):
                month = next(m for m in range(self.months) if d < self.bounds[m + 1])
                dsp = {
                    "status": "00",
                    "prescription_number": rx.number,
                    "date_written": rx.written,
                    "refills_authorized": rx.refills,
                    "date_filled": d,
                    "refill_number": refill,
                    "product_qualifier": "01",
                    "ndc": ndc,
                    "quantity": rx.units * rx.days,
                    "days_supply": rx.days,
                    "dosage_units_code": "01",
                    "transmission_form": "05" if refill == 0 else "01",
                    "pharmacist_npi": pharmacy["_pharmacist"],
                    "payment_type": rx.payment,
                    "date_sold": d,
                }
                yield rx.pharmacy, month, (d, rx.number, refill), pat, dsp, prescriber


def _pha(pharmacy: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in pharmacy.items() if not k.startswith("_")}


def recent_start(months: int, today: date) -> date:
    """The first day of the month ``months`` months before this one: a demo starting there
    ends with last month, so a report's default look-back (12 months) shows it."""
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return date(year, month + 1, 1)


def write_demo_files(
    folder: Path | str,
    seed: int = 0,
    *,
    patients: int = 400,
    months: int = 6,
    start: date = START,
) -> list[Path]:
    """Writes the demo's ASAP files and ``manifest.json`` into ``folder``; the files' paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    demo = _Demo(seed, patients, months, start)
    groups: dict[tuple[int, int], list] = defaultdict(list)
    for pharmacy, month, order, pat, dsp, pre in demo.fills():
        groups[pharmacy, month].append((order, pat, dsp, pre))
    paths: list[Path] = []
    files: list[dict[str, Any]] = []
    for index, pharmacy in enumerate(demo.pharmacies):
        months_of = range(months) if index < demo.active else [months - 1]
        for month in months_of:
            begin, end = demo.bounds[month], demo.bounds[month + 1] - timedelta(days=1)
            name = f"{begin:%Y-%m}_{pharmacy['ncpdp']}.dat"
            created = datetime.combine(end + timedelta(days=1), time(2, (index * 7) % 60))
            items = sorted(groups.get((index, month), []), key=lambda g: g[0])
            path = folder / name
            with (
                path.open("wb") as file,
                AsapWriter(
                    file,
                    f"{pharmacy['ncpdp']}{begin:%Y%m}",
                    created,
                    source_id=pharmacy["ncpdp"],
                    source_name=pharmacy["name"],
                ) as writer,
            ):
                writer.open_pharmacy(_pha(pharmacy))
                for _order, pat, dsp, pre in items:
                    writer.add_dispensation(pat, dsp, pre)
                if not items:
                    writer.add_zero_report(end)
                writer.close_pharmacy()
            paths.append(path)
            files.append(
                {
                    "name": name,
                    "pharmacy": pharmacy["ncpdp"],
                    "month": f"{begin:%Y-%m}",
                    "records": len(items),
                    "zero_report": not items,
                    "bytes": path.stat().st_size,
                }
            )
    manifest = _manifest(demo, files)
    text = json.dumps(manifest, indent=1, sort_keys=True, default=str) + "\n"
    (folder / MANIFEST).write_text(text, encoding="utf-8")
    return paths


def _manifest(demo: _Demo, files: list[dict[str, Any]]) -> dict[str, Any]:
    persons = []
    for person in demo.persons:
        p = person.patient
        persons.append(
            {
                "id": person.id,
                "kind": person.kind,
                "profile": person.profile,
                "name": f"{p.first_name} {p.last_name}",
                "birth_date": p.dob.isoformat(),
                "records": sorted(
                    {
                        (r["first_name"], r["last_name"], r["birth_date"].isoformat(), r["zip"])
                        for r in person.records.values()
                    }
                ),
            }
        )
    return {
        "seed": demo.seed,
        "start": demo.first.isoformat(),
        "end": demo.last.isoformat(),
        "months": demo.months,
        "patients": len(demo.persons),
        "files": files,
        "records": sum(f["records"] for f in files),
        "risky": {kind: [p.id for p in demo.persons if p.kind == kind] for kind in RISK_KINDS},
        "persons": persons,
        "pharmacies": [_pha(p) for p in demo.pharmacies],
        "zero_report_pharmacy": demo.pharmacies[-1]["ncpdp"],
        "prescribers": demo.prescribers,
    }


def load_manifest(folder: Path | str) -> dict[str, Any]:
    """The ``manifest.json`` ``write_demo_files`` wrote into ``folder``."""
    return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
