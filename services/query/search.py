"""Patient search: which persons' reported identities match what a user typed.

Candidates are the identities born on the date given or on its day/month swap (a common
slip between US and other date orders); the names are then compared with the patient
index's own comparers (``services/submissions/matching.py``: typos, nicknames, phonetic
codes, hyphenated surnames), so a search finds what the index would link. A first and a
last name must both be recognisably the same: an unrelated person born the same day is
not shown. ZIP and state, when given, only narrow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from services.submissions.matching import compare_first, compare_last, normalise_name
from services.submissions.matching import normalise_surname as surname

#: How much each way of agreeing counts; a level missing here is not a match.
FIRST = {"exact": 1.0, "nickname": 0.95, "typo": 0.9, "phonetic": 0.85, "similar": 0.8}
LAST = {"exact": 1.0, "typo": 0.9, "phonetic": 0.85, "part": 0.85}
PREFIX = 0.9  # a partial first name that begins the reported one
SWAPPED = 0.9  # the date of birth with day and month exchanged


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
    """How well ``identity`` matches (0 to 1), or None when it should not be shown."""
    if criteria.zip and identity.zip[:5] != criteria.zip:
        return None
    if criteria.state and identity.state.upper() != criteria.state.upper():
        return None
    if identity.birth_date == criteria.birth_date:
        born = 1.0
    elif identity.birth_date in birth_dates(criteria):
        born = SWAPPED
    else:
        return None
    last = LAST.get(compare_last(surname(criteria.last_name), surname(identity.last_name)) or "")
    first = _first(criteria, identity)
    if last is None or first is None:
        return None
    return round(0.4 * first + 0.4 * last + 0.2 * born, 3)


def _first(criteria: Criteria, identity: Identity) -> float | None:
    typed, reported = normalise_name(criteria.first_name), normalise_name(identity.first_name)
    if criteria.partial_first_name:
        return PREFIX if typed and reported.startswith(typed) else None
    return FIRST.get(compare_first(typed, reported) or "")


def matching_persons(criteria: Criteria, identities: Iterable[Identity]) -> list[tuple[str, float]]:
    """The persons with a matching identity and their best score, best first."""
    best: dict[str, float] = {}
    for identity in identities:
        found = score(criteria, identity)
        if found is not None and found > best.get(identity.person_id, -1.0):
            best[identity.person_id] = found
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))
