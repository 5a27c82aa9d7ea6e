"""The patient index: which person each submitted patient record is.

``PatientIndex.link(patient)`` answers a ``Link`` and changes nothing; ``add(patient,
person_id)`` records the decision (event sourcing: the service records a "patient linked"
event, and its projection calls ``add``). ``link`` tries, in order:

1. a deterministic match: the same normalised first and last name, DOB, gender and ZIP as a
   record already linked to exactly one person;
2. a probabilistic match: the records sharing a blocking key with the patient are scored
   (``matching.py``) and the best person wins when its score reaches ``MATCH_THRESHOLD``;
   persons scoring from ``POSSIBLE_THRESHOLD`` are listed as possible matches for an
   administrator to confirm;
3. otherwise a new person, whose id the injected ``new_id`` makes.

Every record added gets a number, its place in the index (the ``patient_records`` table keeps
the same number), so a dispensation names the record its person was found through and an
administrator's decision can move one record (``move``) or join two persons (``merge``).

Blocking keys (a record is stored under each; a lookup also tries its DOB with day and month
swapped): DOB + first name, DOB + the surname's phonetic code (NYSIIS), and the surname's code
with two of the three DOB parts (year+month, year+day, month+day) so that a one-digit DOB
error is still found. Every change the matcher accepts leaves at least one key intact, and a
block holds few records even among millions (people with one DOB and first name).

Memory: one small ``Normalised`` per record (names and cities are shared strings) and a few
dictionary entries keyed by ints (the keys' hashes: two keys that collide only add
candidates).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from services.submissions.matching import (
    MATCH_THRESHOLD,
    POSSIBLE_THRESHOLD,
    Normalised,
    Score,
    explain,
    normalise,
    phonetic,
    score,
    score_normalised,
    swapped_dob,
)

__all__ = ["Link", "Patient", "PatientIndex", "Score", "score"]

EXACT = 100.0  #: the score a deterministic link reports: beyond any weighed total


@dataclass(frozen=True, slots=True)
class Patient:
    """A patient as a dispensation names them (ASAP PAT segment)."""

    first_name: str
    last_name: str
    dob: date | None
    gender: str = ""  # F, M or U
    middle_name: str = ""
    address: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    suffix: str = ""  # PAT11: JR, SR, III, ...


@dataclass(frozen=True, slots=True)
class Link:
    person_id: uuid.UUID
    kind: Literal["deterministic", "probabilistic", "new"]
    score: float  #: the best candidate's score (0 when there was none)
    possible: list[tuple[uuid.UUID, float]] = field(default_factory=list)
    reasons: tuple[str, ...] = ()  #: why the best candidate scored what it did
    record: int | None = None  #: the record matched exactly (deterministic links only)

    @property
    def uncertain(self) -> bool:
        """Worth an administrator's look: linked by similarity, or near someone else."""
        return self.kind == "probabilistic" or bool(self.possible)


class PatientIndex:
    def __init__(
        self,
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
        match_threshold: float = MATCH_THRESHOLD,
        possible_threshold: float = POSSIBLE_THRESHOLD,
    ) -> None:
        self._new_id = new_id
        self.match_threshold = match_threshold
        self.possible_threshold = possible_threshold
        self._records: list[Normalised] = []
        self._record_person: list[int] = []  # record number -> person number
        self._person_ids: list[uuid.UUID] = []
        self._person_numbers: dict[uuid.UUID, int] = {}
        self._blocks: dict[int, int | list[int]] = {}  # key hash -> record number(s)
        self._exact: dict[int, int] = {}  # deterministic key hash -> record, -1: ambiguous

    def __len__(self) -> int:
        """How many records the index holds."""
        return len(self._records)

    @property
    def persons(self) -> int:
        return len(self._person_ids)

    def link(self, patient: Patient) -> Link:
        record = normalise(patient)
        exact = self._exact.get(_exact_key(record), -1)
        if exact >= 0:  # the same key as one person's record: nothing to weigh
            person = self._person_ids[self._record_person[exact]]
            return Link(person, "deterministic", EXACT, record=exact)

        best: dict[int, tuple[float, int]] = {}  # person -> (score, record)
        for number in self._candidates(record):
            total = score_normalised(record, self._records[number])
            person = self._record_person[number]
            if person not in best or total > best[person][0]:
                best[person] = (total, number)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
        possible = [
            (self._person_ids[person], total)
            for person, (total, _) in ranked
            if total >= self.possible_threshold
        ]
        if not ranked:
            return Link(self._new_id(), "new", 0.0)
        person, (total, number) = ranked[0]
        reasons = explain(record, self._records[number]).reasons
        if total >= self.match_threshold:
            return Link(self._person_ids[person], "probabilistic", total, possible[1:], reasons)
        return Link(self._new_id(), "new", total, possible, reasons)

    def add(self, patient: Patient, person_id: uuid.UUID) -> int:
        """Records that ``patient`` is the person ``person_id`` (a new one or a known one);
        returns the record's number."""
        person = self._person_number(person_id)
        record = normalise(patient)
        number = len(self._records)
        self._records.append(record)
        self._record_person.append(person)
        for key in _block_keys(record, record.dob):
            present = self._blocks.get(key)
            if present is None:
                self._blocks[key] = number
            elif type(present) is int:
                self._blocks[key] = [present, number]
            else:
                present.append(number)
        exact = _exact_key(record)
        other = self._exact.get(exact)
        if other is None:
            self._exact[exact] = number
        elif other >= 0 and self._record_person[other] != person:
            self._exact[exact] = -1  # two persons share the key: never deterministic
        return number

    def person_of(self, record: int) -> uuid.UUID:
        return self._person_ids[self._record_person[record]]

    def merge(self, kept: uuid.UUID, merged: uuid.UUID) -> None:
        """An administrator found ``merged`` to be ``kept``: its records become kept's."""
        if merged not in self._person_numbers or kept == merged:
            return
        old, new = self._person_numbers[merged], self._person_number(kept)
        self._record_person = [new if p == old else p for p in self._record_person]

    def move(self, record: int, person_id: uuid.UUID) -> None:
        """An administrator split ``record`` off its person: it is ``person_id`` now."""
        self._record_person[record] = self._person_number(person_id)

    def _person_number(self, person_id: uuid.UUID) -> int:
        person = self._person_numbers.get(person_id)
        if person is None:
            person = self._person_numbers[person_id] = len(self._person_ids)
            self._person_ids.append(person_id)
        return person

    def link_and_add(self, patient: Patient) -> Link:
        """``link`` then ``add`` the patient to the person found (or the new one)."""
        found = self.link(patient)
        self.add(patient, found.person_id)
        return found

    def _candidates(self, record: Normalised) -> Iterator[int]:
        seen: set[int] = set()
        dobs = [record.dob]
        swapped = swapped_dob(record.dob)
        if swapped:
            dobs.append(swapped)
        for dob in dobs:
            for key in _block_keys(record, dob):
                present = self._blocks.get(key)
                if present is None:
                    continue
                for number in (present,) if type(present) is int else present:
                    if number not in seen:
                        seen.add(number)
                        yield number


def _exact_key(record: Normalised) -> int:
    return hash((record.first, record.last, record.dob, record.gender, record.zip))


def _block_keys(record: Normalised, dob: str) -> list[int]:
    keys = [hash(("f", dob, record.first))] if record.first else []
    if record.zip:
        keys.append(hash(("z", dob, record.zip)))
        if record.first:
            keys.append(hash(("zf", record.zip, record.first)))
    if record.last and dob:
        code = phonetic(record.last)[0]
        year, month, day = dob[:4], dob[4:6], dob[6:8]
        keys.append(hash(("l", dob, code)))
        keys.append(hash(("ym", code, year, month)))
        keys.append(hash(("yd", code, year, day)))
        keys.append(hash(("md", code, month, day)))
    return keys
