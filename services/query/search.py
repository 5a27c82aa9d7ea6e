"""Patient search: which persons' reported identities match what a user typed.

Candidates are the identities born on the date given or on its day/month swap (a common
slip between US and other date orders). Both names must then be recognisably the same,
because a search shows a person's controlled-substance history: a miss makes the user search
again, a wrong person is a privacy breach. So the comparers here are stricter than the
patient index's (``services/submissions/matching.py``), which also weighs gender, middle
name and address: a search has only the names and the date to go on.

- Names are compared normalised (``matching.normalise_name``: upper case, no accents,
  letters only), so case, accents, spaces and punctuation never matter.
- One typing error (Damerau-Levenshtein 1) is a typo. Two errors are a spelling variant
  only when Jaro-Winkler is high and the lengths differ by at most one letter: Brain/Bryan,
  Stevens/Stephens, but not Harris/Harrison or Martin/Martinez, where a suffix makes another
  name.
- Phonetic codes (NYSIIS, metaphone) only support a two-error variant's score: alone they
  equate Jean and John, Danny and Tony, Ruiz and Rice.
- A first name given as an initial is not enough; a known male and a known female name are
  different people even one letter apart (boy/girl twins: Carl and Carol, Patrick and
  Patricia), unless they are nicknames of each other; so are two names of the lists that
  are not one name spelt two ways (twins: Carl and Earl, Mark and Mary; Brian is Bryan).
- A hyphenated or double surname matches either of its parts (Smith-Garcia, Smith), but a
  surname that merely begins with another does not (Lee, Leeman).
- A DOB with one wrong digit is not searched: it would bring unrelated people into the
  candidates, and the swap already covers the slip users make most.
- ZIP and state, when given, only narrow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import jellyfish

from services.submissions.matching import (
    are_nicknames,
    normalise_name,
    phonetic,
    surname_parts,
    two_listed_names,
)
from services.submissions.names import FEMALE_FIRST_NAMES, MALE_FIRST_NAMES

EXACT = 1.0
NICKNAME = 0.95
PART = 0.9  # one part of a hyphenated or double surname
TYPO = 0.9  # one typing error
SOUNDS_ALIKE = 0.85  # two errors, same phonetic code
VARIANT = 0.8  # two errors
PREFIX = 0.9  # a partial first name that begins the reported one
SWAPPED = 0.9  # the date of birth with day and month exchanged

#: Jaro-Winkler at or above which two errors are a spelling of the same name.
VARIANT_SIMILARITY = 0.88

#: Words that begin a surname without telling it apart: "De La Cruz" shares nothing with
#: "De Leon".
_PARTICLES = frozenset(
    {"DA", "DAS", "DE", "DEL", "DELA", "DEN", "DER", "DI", "DO", "DOS", "DU", "LA", "LAS",
     "LE", "LOS", "MAC", "MC", "O", "SAN", "ST", "VAN", "VON", "Y"}
)  # fmt: skip


@dataclass(frozen=True)
class Criteria:
    first_name: str
    last_name: str
    birth_date: date
    partial_first_name: bool = False  # "Jo" finds John and Joanna
    zip: str = ""  # five digits: narrows
    state: str = ""  # two letters: narrows


@dataclass(frozen=True)
class Identity:
    """One way pharmacies reported a person (a patient index record)."""

    patient_record: int
    person_id: str
    first_name: str
    last_name: str
    birth_date: date | None
    zip: str
    state: str


def birth_dates(criteria: Criteria) -> tuple[date, ...]:
    """The date of birth and, when day and month can be exchanged, the swapped date."""
    born = criteria.birth_date
    if born.day > 12 or born.day == born.month:
        return (born,)
    return (born, born.replace(month=born.day, day=born.month))


def score(criteria: Criteria, identity: Identity) -> float | None:
    """How well ``identity`` matches (0 to 1), or None when it should not be shown. Names
    weigh most: the date already chose the candidates."""
    if not _narrowed(criteria, identity):
        return None
    born = _born(criteria, identity.birth_date)
    if born is None:
        return None
    last = compare_last(criteria.last_name, identity.last_name)
    if last is None:
        return None
    first = _first(criteria, identity.first_name)
    if first is None:
        return None
    return round(0.4 * first + 0.4 * last + 0.2 * born, 3)


def names_alike(first: str, last: str, reported_first: str, reported_last: str) -> float | None:
    """How alike a typed name is to a recorded one (0 to 1, first and last names weighing
    alike), or None when either is another name: patient search's rules for whole names
    (typos, variants, nicknames, a surname's part), for callers that have the date of birth
    already (the medical marijuana registry's verification by name)."""
    last_score = compare_last(last, reported_last)
    first_score = compare_first(first, reported_first) if last_score is not None else None
    if first_score is None or last_score is None:
        return None
    return round((first_score + last_score) / 2, 3)


def matching_persons(criteria: Criteria, identities: Iterable[Identity]) -> list[tuple[str, float]]:
    """The persons with a matching identity and their best score, best first, ties by id
    (a stable order for the same data)."""
    best: dict[str, float] = {}
    for identity in identities:
        found = score(criteria, identity)
        if found is not None and found > best.get(identity.person_id, -1.0):
            best[identity.person_id] = found
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))


def _narrowed(criteria: Criteria, identity: Identity) -> bool:
    """Whether the identity is in the ZIP and state asked for; one without them is not."""
    if criteria.zip and _zip5(identity.zip) != _zip5(criteria.zip):
        return False
    return not criteria.state or _state(identity.state) == _state(criteria.state)


def _zip5(zip_code: str | None) -> str:
    return "".join(c for c in zip_code or "" if c.isdigit())[:5]


def _state(state: str | None) -> str:
    return (state or "").strip().upper()


def _born(criteria: Criteria, born: date | None) -> float | None:
    if born == criteria.birth_date:
        return EXACT
    return SWAPPED if born in birth_dates(criteria) else None


def _first(criteria: Criteria, reported: str) -> float | None:
    typed = normalise_name(criteria.first_name)
    if criteria.partial_first_name:
        return _prefix(typed, normalise_name(reported))
    return compare_first(criteria.first_name, reported)


def _prefix(typed: str, reported: str) -> float | None:
    if not typed or not reported.startswith(typed):
        return None
    return EXACT if typed == reported else PREFIX


@lru_cache(maxsize=100_000)
def compare_first(typed: str, reported: str) -> float | None:
    """How alike two given names are (0 to 1), None when they are different names."""
    a, b = normalise_name(typed), normalise_name(reported)
    if not a or not b:
        return None
    if a == b:
        return EXACT
    if are_nicknames(a, b):
        return NICKNAME
    if min(len(a), len(b)) == 1 or _opposite_genders(a, b) or two_listed_names(a, b):
        return None
    return _spelling(a, b)


@lru_cache(maxsize=100_000)
def compare_last(typed: str, reported: str) -> float | None:
    """How alike two surnames are (0 to 1), None when they are different surnames."""
    typed_parts, reported_parts = surname_parts(typed), surname_parts(reported)
    a, b = "".join(typed_parts), "".join(reported_parts)
    if not a or not b:
        return None
    if a == b:
        return EXACT
    spelling = _spelling(a, b)
    if spelling is not None:
        return spelling
    return PART if _telling(typed_parts) & _telling(reported_parts) else None


def _spelling(a: str, b: str) -> float | None:
    """TYPO for one typing error, a variant for two when the names stay alike, else None."""
    if min(len(a), len(b)) < 3:
        return None
    errors = jellyfish.damerau_levenshtein_distance(a, b)
    if errors == 1:
        return TYPO
    if errors > 2 or abs(len(a) - len(b)) > 1:
        return None
    if jellyfish.jaro_winkler_similarity(a, b) < VARIANT_SIMILARITY:
        return None
    ours, theirs = phonetic(a), phonetic(b)
    return SOUNDS_ALIKE if ours[0] == theirs[0] or ours[1] == theirs[1] else VARIANT


def _telling(parts: tuple[str, ...]) -> frozenset[str]:
    """The parts of a surname that tell it apart: not particles, not single letters."""
    return frozenset(p for p in parts if len(p) > 1 and p not in _PARTICLES)


_MALE = frozenset(map(normalise_name, MALE_FIRST_NAMES))
_FEMALE = frozenset(map(normalise_name, FEMALE_FIRST_NAMES))


def _opposite_genders(a: str, b: str) -> bool:
    """Whether one name is a known male name and the other a known female one."""
    return (a in _MALE and b in _FEMALE) or (a in _FEMALE and b in _MALE)
