"""Realistic generated identities: persons, the variant records a PMP receives for them, and
distinct persons who look alike on purpose. Used to measure the patient index and for demo
data.

``generate(n, seed)`` makes at least ``n`` records (``IdentityRecord``: the patient, the true
person's key and the kind of record), shuffled. Each person has an ``original`` record and
0-3 variants, each one change away from the original:

- ``typo_first``, ``typo_last``: one insertion, deletion, substitution or transposition;
- ``nickname``: Bill for William (when the name has one);
- ``hyphenated``: the surname gains a second part (Smith -> Smith-Garcia);
- ``married``: a new surname, same first name, DOB and address;
- ``swapped_dob``: day and month exchanged (only when both are 12 or less and differ);
- ``dob_typo``: one digit of the DOB wrong (still a valid date);
- ``no_middle``: the middle name left out;
- ``moved``: a different address, city and ZIP, same name and DOB;
- ``no_suffix``: a son's "Jr" left out.

Some persons are collisions of another one, by design (issue 24 added the last two):

- a ``namesake``: same first and last name and DOB, another gender and ZIP;
- a ``twin``: same DOB, surname and address, a first name unlike the other's;
- a ``near_twin``: a twin whose first name is one letter from the other's (Mark and Mary,
  John and Joan, Carl and Earl), its gender the name's, another middle name;
- a ``junior``: a father's son of the same name, address and middle name, suffix "Jr",
  born 18 to 45 years later; one in four on his father's birthday a whole number of decades
  later, so that the two DOBs differ in one digit, as a mistyped year would.

``evaluate(records)`` links every record with a ``PatientIndex`` and measures pairwise
precision and recall against the true person keys.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date
from functools import cache

from services.submissions.matching import (
    are_nicknames,
    compare_first,
    normalise_name,
    phonetic,
    spelling_key,
)
from services.submissions.names import (
    FEMALE_FIRST_NAMES,
    LAST_NAMES,
    MALE_FIRST_NAMES,
    NICKNAME_GROUPS,
    PLACES,
    STATE,
    STREET_NAMES,
    STREET_SUFFIXES,
)
from services.submissions.patients import Patient, PatientIndex

VARIANT_KINDS: dict[str, int] = {  # kind -> relative frequency
    "typo_first": 10,
    "typo_last": 10,
    "nickname": 10,
    "hyphenated": 4,
    "married": 6,
    "swapped_dob": 5,
    "dob_typo": 3,
    "no_middle": 8,
    "moved": 10,
    "no_suffix": 10,  # applies to juniors only
}
COLLISION_RATE = 0.12  # share of persons made as a namesake, twin, near twin or junior
COLLISIONS = ("namesake", "twin", "near_twin", "junior")

_EARLIEST = date(1930, 1, 1).toordinal()
_LATEST = date(2022, 12, 31).toordinal()


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    person_key: str
    kind: str  # "original", a VARIANT_KINDS key or one of COLLISIONS
    patient: Patient


def _popular(rng: random.Random, names: tuple[str, ...]) -> str:
    """A name, the first of the list (most common) more often than the last."""
    return names[min(int(rng.expovariate(1 / (len(names) / 3))), len(names) - 1)]


def _nicknames() -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for group in NICKNAME_GROUPS:
        for name in group:
            table.setdefault(name, []).extend(n for n in group if n != name)
    return table


_NICKNAMES = _nicknames()


_GENDERED = [(name, "M") for name in MALE_FIRST_NAMES] + [(n, "F") for n in FEMALE_FIRST_NAMES]


@cache
def _near_names(name: str, gender: str) -> list[tuple[str, str]]:
    """The listed first names one typing error from ``name`` that parents give twins, with
    their gender: not a nickname of it, nor the same name spelt or said another way (Mark and
    Marc, Brian and Bryan, Louis and Luis)."""
    a = normalise_name(name)
    near = []
    for other, other_gender in _GENDERED:
        b = normalise_name(other)
        if abs(len(a) - len(b)) > 1 or a == b or compare_first(a, b) != "typo":
            continue
        if are_nicknames(a, b) or spelling_key(a) == spelling_key(b):
            continue
        if gender == other_gender and phonetic(a) == phonetic(b):
            continue  # Louis and Luis, Ann and Anna: one name, not twins' two
        near.append((other, other_gender))
    return near


class _Maker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def first_name(self, gender: str) -> str:
        return _popular(self.rng, MALE_FIRST_NAMES if gender == "M" else FEMALE_FIRST_NAMES)

    def address(self) -> tuple[str, str, str]:
        rng = self.rng
        city, prefix = rng.choice(PLACES)
        street = f"{rng.randint(1, 9999)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_SUFFIXES)}"
        if rng.random() < 0.1:
            street += f" Apt {rng.randint(1, 40)}"
        return street, city, f"{prefix}{rng.randint(1, 99):02d}"

    def person(self) -> Patient:
        rng = self.rng
        gender = rng.choice("FM")
        street, city, zip_code = self.address()
        middle = self.first_name(gender) if rng.random() < 0.7 else ""
        if middle and rng.random() < 0.3:
            middle = middle[0]
        return Patient(
            first_name=self.first_name(gender),
            last_name=_popular(rng, LAST_NAMES),
            middle_name=middle,
            dob=date.fromordinal(rng.randint(_EARLIEST, _LATEST)),
            gender=gender,
            address=street,
            city=city,
            state=STATE,
            zip=zip_code,
        )

    def namesake(self, of: Patient) -> Patient:
        """Same name and DOB, another person: another gender, elsewhere."""
        street, city, zip_code = self.address()
        while zip_code == of.zip:
            street, city, zip_code = self.address()
        gender = "M" if of.gender == "F" else "F"
        middle = self.first_name(gender) if of.middle_name else ""
        return replace(
            of, gender=gender, middle_name=middle, address=street, city=city, zip=zip_code
        )

    def twin(self, of: Patient) -> Patient:
        """Same DOB, surname and address; a first name unlike the other's."""
        gender = self.rng.choice("FM")
        while True:
            first = self.first_name(gender)
            if compare_first(normalise_name(first), normalise_name(of.first_name)) == "different":
                break
        middle = self.first_name(gender) if self.rng.random() < 0.7 else ""
        return replace(of, first_name=first, middle_name=middle, gender=gender)

    def near_twin(self, of: Patient) -> Patient | None:
        """A twin whose first name is one letter from the other's; None when no listed name
        is."""
        near = _near_names(of.first_name, of.gender)
        if not near:
            return None
        first, gender = self.rng.choice(near)
        middle = ""
        while self.rng.random() < 0.7 and middle in ("", of.middle_name):
            middle = self.first_name(gender)
        return replace(of, first_name=first, middle_name=middle, gender=gender)

    def junior(self, of: Patient) -> Patient | None:
        """A man's son named after him ("Jr"); None for a woman, or a man too young."""
        rng = self.rng
        if of.gender != "M" or of.suffix:
            return None
        if rng.random() < 0.25:  # on his father's birthday, a whole number of decades later
            year = of.dob.year + rng.choice((20, 30, 40))
            born = date(year, of.dob.month, min(of.dob.day, 28 if of.dob.month == 2 else 31))
        else:
            born = date.fromordinal(of.dob.toordinal() + rng.randint(18 * 365, 45 * 365))
        if born.toordinal() > _LATEST:
            return None
        return replace(of, dob=born, suffix="Jr")

    def typo(self, name: str) -> str:
        rng = self.rng
        letters = "abcdefghijklmnopqrstuvwxyz"
        while True:
            chars = list(name.lower())
            at = rng.randrange(len(chars))
            operation = rng.choice(("insert", "delete", "substitute", "transpose"))
            if operation == "insert":
                chars.insert(at, rng.choice(letters))
            elif operation == "delete" and len(chars) > 3:
                del chars[at]
            elif operation == "substitute":
                chars[at] = rng.choice(letters)
            elif operation == "transpose" and at + 1 < len(chars):
                chars[at], chars[at + 1] = chars[at + 1], chars[at]
            result = "".join(chars).capitalize()
            if result.lower() != name.lower():
                return result

    def dob_typo(self, dob: date) -> date:
        rng = self.rng
        text = dob.strftime("%Y%m%d")
        while True:
            at = rng.randrange(2, 8)  # not the century
            digits = text[:at] + rng.choice("0123456789") + text[at + 1 :]
            try:
                typo = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
            except ValueError:
                continue
            if typo != dob and typo.toordinal() <= _LATEST:
                return typo

    def variant(self, of: Patient, kind: str) -> Patient | None:
        """``of`` with the change ``kind``; None when the change does not apply to it."""
        rng = self.rng
        if kind == "typo_first":
            return replace(of, first_name=self.typo(of.first_name))
        if kind == "typo_last":
            return replace(of, last_name=self.typo(of.last_name))
        if kind == "nickname":
            nicknames = _NICKNAMES.get(of.first_name)
            return replace(of, first_name=rng.choice(nicknames)) if nicknames else None
        if kind == "hyphenated":
            other = _popular(rng, LAST_NAMES)
            parts = (of.last_name, other) if rng.random() < 0.7 else (other, of.last_name)
            return replace(of, last_name="-".join(parts)) if other != of.last_name else None
        if kind == "married":
            other = _popular(rng, LAST_NAMES)
            return replace(of, last_name=other) if other != of.last_name else None
        if kind == "swapped_dob":
            dob = of.dob
            if dob.day > 12 or dob.day == dob.month:
                return None
            return replace(of, dob=date(dob.year, dob.day, dob.month))
        if kind == "dob_typo":
            return replace(of, dob=self.dob_typo(of.dob))
        if kind == "no_middle":
            return replace(of, middle_name="") if of.middle_name else None
        if kind == "moved":
            street, city, zip_code = self.address()
            return replace(of, address=street, city=city, zip=zip_code)
        if kind == "no_suffix":
            return replace(of, suffix="") if of.suffix else None
        raise ValueError(kind)

    def collision(self, of: Patient, kind: str) -> Patient | None:
        """A look-alike of ``of`` (one of COLLISIONS); None when ``kind`` does not apply."""
        if kind == "namesake":
            return self.namesake(of)
        if kind == "twin":
            return self.twin(of)
        if kind == "near_twin":
            return self.near_twin(of)
        if kind == "junior":
            return self.junior(of)
        raise ValueError(kind)


def generate(n: int, seed: int = 0) -> list[IdentityRecord]:
    """At least ``n`` records of generated persons, shuffled; the same for the same seed."""
    rng = random.Random(seed)
    maker = _Maker(rng)
    kinds, weights = zip(*VARIANT_KINDS.items(), strict=True)
    records: list[IdentityRecord] = []
    persons = 0
    unpaired: list[Patient] = []  # originals without a namesake or twin yet
    while len(records) < n:
        key = f"P{persons:07d}"
        persons += 1
        if unpaired and rng.random() < COLLISION_RATE:
            # of an original only, and once: a namesake of a namesake would have the
            # original's gender again, a person who moved rather than a collision
            kind = rng.choice(COLLISIONS)
            for _ in range(20):  # an original it applies to: a name with a near one, a man
                at = rng.randrange(len(unpaired))
                person = maker.collision(unpaired[at], kind)
                if person is not None:
                    break
            of = unpaired.pop(at)
            if person is None:
                kind, person = "twin", maker.twin(of)
        else:
            kind, person = "original", maker.person()
            unpaired.append(person)
        records.append(IdentityRecord(key, kind, person))
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            variant_kind = rng.choices(kinds, weights)[0]
            variant = maker.variant(person, variant_kind)
            if variant is not None:
                records.append(IdentityRecord(key, variant_kind, variant))
    rng.shuffle(records)
    return records


def seeded_ids(seed: int = 0):
    """A ``new_id`` for ``PatientIndex`` that makes the same UUIDs every run."""
    rng = random.Random(seed)
    return lambda: uuid.UUID(int=rng.getrandbits(128), version=4)


def _pairs(sizes: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in sizes.values())


@dataclass(frozen=True, slots=True)
class Evaluation:
    precision: float
    recall: float
    linked_pairs: int
    true_pairs: int
    seconds_per_link: float
    kinds: Counter  # Link.kind -> how many


def measure(records: list[IdentityRecord], index: PatientIndex | None = None) -> Evaluation:
    """Links every record in order (``link`` then ``add``) and compares the persons found
    with the true ones, pair by pair."""
    index = index if index is not None else PatientIndex(new_id=seeded_ids())
    found: list[uuid.UUID] = []
    kinds: Counter = Counter()
    started = time.perf_counter()
    for record in records:
        link = index.link(record.patient)
        index.add(record.patient, link.person_id)
        found.append(link.person_id)
        kinds[link.kind] += 1
    elapsed = time.perf_counter() - started
    both = _pairs(Counter(zip(found, (r.person_key for r in records), strict=True)))
    linked = _pairs(Counter(found))
    true = _pairs(Counter(r.person_key for r in records))
    return Evaluation(
        precision=both / linked if linked else 1.0,
        recall=both / true if true else 1.0,
        linked_pairs=linked,
        true_pairs=true,
        seconds_per_link=elapsed / max(len(records), 1),
        kinds=kinds,
    )


def evaluate(records: list[IdentityRecord]) -> tuple[float, float]:
    """Pairwise (precision, recall) of a fresh ``PatientIndex`` linking ``records``."""
    result = measure(records)
    return result.precision, result.recall
