"""Patient matching, the pure part: normalising a patient and scoring two of them.

A score is a sum of log-odds style weights, one per field, Fellegi-Sunter fashion: each
field's level of agreement (exact, nickname, typo, ...) adds evidence for or against the two
records being the same person. The weights were tuned on generated identities
(``identities.py``) so that the collisions that do happen in a state's population stay apart:

- a first name that disagrees weighs much more than a last name that does, because surnames
  change (marriage, hyphenation) and twins share everything but the first name;
- a gender that disagrees weighs almost as much as a DOB that does: two people with the same
  name and DOB in different ZIPs are told apart by it, a move keeps it;
- an address or ZIP that disagrees weighs little (people move), one that agrees weighs a lot.

Look-alike households (issue 24) share surname, address and sometimes DOB, so two rules look
at fields together:

- twins: two first names close in spelling are "another name" (as heavy as a different one,
  so the pair is at most a possible match for an administrator to decide, never linked) when
  the records' genders differ (Paul, Paula), when their full middle names differ too (Justin
  Randy, Austin Wayne), when one is a given name of the lists in ``names.py`` and the other
  two slips from it (Alvin, Caxvin: one slip from Calvin), or when both are listed names that
  are not nicknames of each other (Mark and Mary, Carl and Earl, Tim and Tom), unless they
  are one name spelt two ways: alike once read as ``spelling_key`` reads them (Mark, Marc;
  Teresa, Theresa; Brian, Bryan), or of one gender with one full middle name (Alan Lee,
  Allen Lee). A misspelling that makes no listed name (Micheal) stays a typo;
- father and son: a generation suffix (PAT11, or "Jr" written in the surname; II counts as
  JR) that differs weighs against, and a DOB one digit off that puts the years ten or more
  apart is another "generation" when only one of them has a suffix (John Smith 1958-06-14,
  John Smith Jr 1988-06-14). A suffix on one side only weighs nothing: pharmacies drop it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import jellyfish

from services.submissions.names import FEMALE_FIRST_NAMES, MALE_FIRST_NAMES, NICKNAME_GROUPS

#: Weight of each field's level of agreement. ``different`` is the weight when both values
#: are present and agree at no level; a value missing on either side weighs 0.
WEIGHTS: dict[str, dict[str, float]] = {
    "first": {
        "exact": 5.0,
        "nickname": 4.0,
        "typo": 3.5,
        "phonetic": 3.0,
        "initial": 1.0,
        "similar": -2.0,  # two typing errors apart: weak evidence against
        "different": -9.0,
        "another name": -9.0,  # a twin's: can never reach MATCH_THRESHOLD (see the tests)
    },
    "last": {
        "exact": 5.0,
        "part": 4.0,  # one hyphenated part is the other surname
        "typo": 3.5,
        "phonetic": 3.0,
        "different": -3.0,
    },
    "middle": {"exact": 1.5, "initial": 0.5, "typo": 1.0, "phonetic": 1.0, "different": -2.0},
    "dob": {"exact": 7.0, "transposed": 4.0, "typo": 3.0, "different": -12.0, "generation": -12.0},
    "gender": {"exact": 0.5, "different": -9.0},
    "zip": {"exact": 2.0, "different": -0.5},
    "address": {"exact": 3.5, "typo": 2.5, "different": 0.0},
    "city": {"exact": 0.5, "different": 0.0},
    "suffix": {"exact": 0.0, "different": -9.0},  # JR against SR: another generation
}

#: At or above: the same person. Between POSSIBLE and MATCH: a possible match that an
#: administrator confirms or rejects; the record gets a person of its own meanwhile.
MATCH_THRESHOLD = 12.0
POSSIBLE_THRESHOLD = 7.0

_NOT_LETTERS = re.compile(r"[^A-Z]+")
_NOT_WORD = re.compile(r"[^A-Z0-9]+")
#: Generation suffixes as written (PAT11, or the surname's last word) -> one spelling each.
_GENERATIONS = {
    "SR": "SR", "JR": "JR", "II": "JR", "2ND": "JR", "III": "III", "3RD": "III", "IV": "IV",
    "4TH": "IV",
}  # fmt: skip
_SURNAME_SUFFIXES = frozenset({"JR", "SR", "II", "III", "IV"})
_ADDRESS_WORDS = {
    "STREET": "ST", "AVENUE": "AVE", "AV": "AVE", "ROAD": "RD", "DRIVE": "DR", "LANE": "LN",
    "COURT": "CT", "BOULEVARD": "BLVD", "PLACE": "PL", "CIRCLE": "CIR", "PARKWAY": "PKWY",
    "HIGHWAY": "HWY", "TERRACE": "TER", "APARTMENT": "APT", "SUITE": "STE", "UNIT": "APT",
    "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
}  # fmt: skip


def _ascii_upper(text: str | None) -> str:
    """Upper case without accents: 'José' -> 'JOSE', 'Łukasz' keeps what NFKD cannot split."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


@lru_cache(maxsize=200_000)
def normalise_name(name: str | None) -> str:
    """Letters only, upper case, no accents: "O'Brien" -> 'OBRIEN', 'Smith-Jones' ->
    'SMITHJONES'."""
    return _NOT_LETTERS.sub("", _ascii_upper(name))


def surname_parts(name: str | None) -> tuple[str, ...]:
    """The parts of a surname, without Jr/Sr/III: 'Smith-Jones' -> ('SMITH', 'JONES')."""
    return _surname(name)[0]


def normalise_surname(name: str | None) -> str:
    return "".join(surname_parts(name))


@lru_cache(maxsize=200_000)
def _surname(name: str | None) -> tuple[tuple[str, ...], str, str]:
    """A surname's parts, the parts joined, and the generation its last word names:
    'Smith-Jones Jr.' -> (('SMITH', 'JONES'), 'SMITHJONES', 'JR')."""
    words = [w for w in _NOT_LETTERS.split(_ascii_upper(name).replace("'", "")) if w]
    found = ""
    while len(words) > 1 and words[-1] in _SURNAME_SUFFIXES:
        found = found or _GENERATIONS[words.pop()]
    return tuple(words), "".join(words), found


def generation(suffix: str | None) -> str:
    """The generation a suffix (PAT11) names: JR, SR, III or IV (II is JR); '' for none or
    for a suffix that is no generation (MD)."""
    return _GENERATIONS.get(_NOT_WORD.sub("", _ascii_upper(suffix)), "") if suffix else ""


def written_surname(last_name: str, suffix: str) -> str:
    """The surname with its generation as people write it: ('Smith', 'Jr') -> 'Smith JR'.
    The index's table keeps a suffix so; ``normalise`` reads it back from the surname."""
    found = generation(suffix)
    if not found or _surname(last_name)[2]:
        return last_name
    return f"{last_name} {found}"


@lru_cache(maxsize=200_000)
def normalise_address(line: str | None) -> str:
    """Upper case words with the usual USPS abbreviations: '12 Oak Street.' -> '12 OAK ST'."""
    words = _NOT_WORD.split(_ascii_upper(line))
    return " ".join(_ADDRESS_WORDS.get(w, w) for w in words if w)


@lru_cache(maxsize=200_000)
def phonetic(name: str) -> tuple[str, str]:
    """Two phonetic codes of a normalised name: NYSIIS and metaphone."""
    if not name:
        return ("", "")
    return (jellyfish.nysiis(name), jellyfish.metaphone(name))


#: Given names of the lists and their nicknames: two of them close in spelling are more likely
#: two people's names (twins: Mark, Mary) than one misspelt.
_GIVEN_NAMES = frozenset(
    normalise_name(name)
    for name in (*MALE_FIRST_NAMES, *FEMALE_FIRST_NAMES, *(n for g in NICKNAME_GROUPS for n in g))
)


def _build_nicknames() -> dict[str, frozenset[int]]:
    groups: dict[str, set[int]] = {}
    for number, group in enumerate(NICKNAME_GROUPS):
        for name in group:
            groups.setdefault(normalise_name(name), set()).add(number)
    return {name: frozenset(numbers) for name, numbers in groups.items()}


_NICKNAMES = _build_nicknames()
_NO_GROUP: frozenset[int] = frozenset()


def are_nicknames(a: str, b: str) -> bool:
    """Whether two normalised given names are one another's nickname (Bill, William)."""
    return bool(_NICKNAMES.get(a, _NO_GROUP) & _NICKNAMES.get(b, _NO_GROUP))


@dataclass(frozen=True, slots=True)
class Normalised:
    """A patient as the matcher compares it; what the index keeps of each record."""

    first: str
    last: str  # the surname's parts joined: SMITHJONES
    middle: str
    dob: str  # YYYYMMDD, "" if unknown
    gender: str  # F, M or "" (unknown)
    zip: str  # five digits or ""
    address: str
    city: str
    suffix: str  # the generation: JR, SR, III, IV or ""


def normalise(patient) -> Normalised:
    """The ``Normalised`` form of anything with the fields of ``patients.Patient``."""
    dob = patient.dob
    gender = _ascii_upper(patient.gender).strip()[:1]
    zip_digits = "".join(c for c in (patient.zip or "") if c.isdigit())[:5]
    _, last, written = _surname(patient.last_name)
    return Normalised(
        first=normalise_name(patient.first_name),
        last=last,
        middle=normalise_name(patient.middle_name),
        dob=dob.strftime("%Y%m%d") if isinstance(dob, date) else "",
        gender=gender if gender in ("F", "M") else "",
        zip=zip_digits if len(zip_digits) == 5 else "",
        address=normalise_address(patient.address),
        city=normalise_name(patient.city),
        suffix=(generation(patient.suffix) if patient.suffix else "") or written,
    )


def swapped_dob(dob: str) -> str | None:
    """The DOB with day and month exchanged, when that is a different valid date."""
    if len(dob) != 8:
        return None
    month, day = dob[4:6], dob[6:8]
    if month == day or int(day) > 12:
        return None
    return dob[:4] + day + month


def _similar(a: str, b: str) -> bool:
    """One typing error apart: an insertion, deletion, substitution or transposition."""
    if abs(len(a) - len(b)) > 1 or min(len(a), len(b)) < 3:
        return False
    return jellyfish.damerau_levenshtein_distance(a, b) <= 1 or (
        jellyfish.jaro_winkler_similarity(a, b) >= 0.94
    )


def compare_first(a: str, b: str) -> str | None:
    if not a or not b:
        return None
    if a == b:
        return "exact"
    if are_nicknames(a, b):
        return "nickname"
    if len(a) == 1 or len(b) == 1:
        return "initial" if a[0] == b[0] else "different"
    if _similar(a, b):
        return "typo"
    if _phonetic_match(a, b):
        return "phonetic"
    if _two_errors(a, b):
        return "similar"
    return "different"


def _two_errors(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 2 or min(len(a), len(b)) < 4:
        return False
    return (
        jellyfish.damerau_levenshtein_distance(a, b) <= 2
        and jellyfish.jaro_winkler_similarity(a, b) >= 0.8
    )


def compare_last(a: str, b: str) -> str | None:
    if not a or not b:
        return None
    if a == b:
        return "exact"
    if _similar(a, b):
        return "typo"
    if _phonetic_match(a, b):
        return "phonetic"
    # SMITH against SMITHJONES or JONESSMITH: the hyphenated name holds the other
    shorter, longer = (a, b) if len(a) < len(b) else (b, a)
    if len(shorter) >= 2 and (longer.startswith(shorter) or longer.endswith(shorter)):
        return "part"
    return "different"


def compare_middle(a: str, b: str) -> str | None:
    if not a or not b:
        return None
    if a == b:
        return "exact"
    if len(a) == 1 or len(b) == 1:
        return "initial" if a[0] == b[0] else "different"
    if _similar(a, b):
        return "typo"
    if _phonetic_match(a, b):
        return "phonetic"
    return "different"


def _phonetic_match(a: str, b: str) -> bool:
    pa, pb = phonetic(a), phonetic(b)
    return pa[0] == pb[0] or pa[1] == pb[1]


def compare_dob(a: str, b: str) -> str | None:
    if not a or not b:
        return None
    if a == b:
        return "exact"
    if swapped_dob(a) == b:
        return "transposed"
    if sum(x != y for x, y in zip(a, b, strict=True)) == 1:
        return "typo"
    return "different"


def _equal(a: str, b: str) -> str | None:
    if not a or not b:
        return None
    return "exact" if a == b else "different"


def compare_address(a: str, b: str) -> str | None:
    if not a or not b:
        return None
    if a == b:
        return "exact"
    if jellyfish.jaro_winkler_similarity(a, b) >= 0.93:
        return "typo"
    return "different"


_CLOSE = frozenset({"typo", "phonetic", "similar"})  #: first names alike but not equal
_DOUBLED = re.compile(r"(.)\1+")


def spelling_key(name: str) -> str:
    """A normalised given name with the letters that spell one sound several ways made one:
    y as i, k as c, ph and v as f, no h after the first letter, no doubled letter, no final
    e. One name spelt two ways has one key (BRIAN, BRYAN; TERESA, THERESA; ANN, ANNE);
    twins' names keep theirs (MARK, MARY; NORA, NORMA)."""
    key = name.replace("PH", "F").replace("Y", "I").replace("K", "C").replace("V", "F")
    key = key[:1] + key[1:].replace("H", "")
    return _DOUBLED.sub(r"\1", key[:-1] if len(key) > 3 and key.endswith("E") else key)


def two_listed_names(a: str, b: str) -> bool:
    """Whether normalised given names ``a`` and ``b`` are two names of the lists, not one
    name spelt two ways (Mark and Mary, Carl and Earl; not Brian and Bryan). Nicknames are
    the caller's to have told apart first."""
    return a in _GIVEN_NAMES and b in _GIVEN_NAMES and spelling_key(a) != spelling_key(b)


def _first_of(a: Normalised, b: Normalised) -> str | None:
    """``compare_first``, with a twin's name told from a misspelling (the module's rules)."""
    level = compare_first(a.first, b.first)
    if level not in _CLOSE:
        return level
    if a.gender and b.gender and a.gender != b.gender:
        return "another name"  # Paul, Paula
    if compare_middle(a.middle, b.middle) == "different":
        return "another name"  # Justin Randy, Austin Wayne: both names differ
    listed = (a.first in _GIVEN_NAMES) + (b.first in _GIVEN_NAMES)
    if listed < 2:  # two slips from a listed name are rather one from a twin's
        return "another name" if listed and level == "similar" else level
    if not two_listed_names(a.first, b.first):
        return level
    one_name = a.gender and a.gender == b.gender and len(a.middle) > 1 and a.middle == b.middle
    return level if one_name else "another name"


def _dob_of(a: Normalised, b: Normalised) -> str | None:
    """``compare_dob``, with a father and son of one name told from a mistyped year."""
    level = compare_dob(a.dob, b.dob)
    if level == "typo" and a.suffix != b.suffix and abs(int(a.dob[:4]) - int(b.dob[:4])) >= 10:
        return "generation"
    return level


_FIELDS = ("first", "last", "middle", "dob", "gender", "zip", "address", "city", "suffix")
_FIELD_WEIGHTS = tuple(WEIGHTS[field] for field in _FIELDS)


def _levels(a: Normalised, b: Normalised) -> tuple[str | None, ...]:
    """The level of agreement of each of ``_FIELDS``, in order (None: missing on a side)."""
    return (
        _first_of(a, b),
        compare_last(a.last, b.last),
        compare_middle(a.middle, b.middle),
        _dob_of(a, b),
        _equal(a.gender, b.gender),
        _equal(a.zip, b.zip),
        compare_address(a.address, b.address),
        _equal(a.city, b.city),
        _equal(a.suffix, b.suffix) if a.suffix and b.suffix else None,  # mostly neither
    )


def levels(a: Normalised, b: Normalised) -> dict[str, str | None]:
    """The level of agreement of every field (None: missing on one side)."""
    return dict(zip(_FIELDS, _levels(a, b), strict=True))


def score_normalised(a: Normalised, b: Normalised) -> float:
    """The total weight of two normalised records (the index's hot path: no reasons)."""
    total = 0.0
    for weights, level in zip(_FIELD_WEIGHTS, _levels(a, b), strict=True):  # no dict: hot
        if level is not None:
            total += weights[level]
    return total


@dataclass(frozen=True, slots=True)
class Score:
    """A score and why: one reason per field compared, e.g. 'first: nickname +4.0'."""

    total: float
    reasons: tuple[str, ...]

    def __float__(self) -> float:
        return self.total


def explain(a: Normalised, b: Normalised) -> Score:
    total = 0.0
    reasons = []
    for field, level in levels(a, b).items():
        if level is None:
            reasons.append(f"{field}: missing 0")
            continue
        weight = WEIGHTS[field][level]
        total += weight
        reasons.append(f"{field}: {level} {weight:+g}")
    return Score(total, tuple(reasons))


def score(a, b) -> Score:
    """The score of two patients (``patients.Patient`` or anything with its fields)."""
    return explain(normalise(a), normalise(b))
