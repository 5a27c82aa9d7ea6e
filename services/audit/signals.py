"""Misuse signals: pure rules over one user's searches, each giving its evidence or None.

Five signals, for administrators and auditors to look into (none of them proves misuse):

- ``surname``: the patient searched shares the searcher's surname (as typed in the search,
  or as pharmacies reported the person found);
- ``address``: the patient's reported address is the searcher's work address;
- ``hour``: the search was made far outside the searcher's usual hours, as their own
  searches of the baseline period (90 days) show them; the hours wrap at midnight, so a
  night shift from 22:00 to 06:00 is one band; too short a history is not judged;
- ``volume``: a day's searches well above both the searcher's own daily baseline and their
  peers' (the other users of the same role), and at least a minimum;
- ``repeated``: one patient searched again and again within a few days by a prescriber,
  pharmacist or delegate whom no dispensation to that patient names (as prescriber, by DEA
  or NPI, or as pharmacy, by NCPDP or NPI; a delegate through their supervisor).

A signal of one kind is raised at most once per user and patient (per day for ``volume``)
in the quiet period (30 days). Nothing here reads a database or a clock: the watch
(``misuse.py``) gathers the facts (``misuse_facts.py``) and passes them in.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from pmp.config import Settings

NAMESPACE = uuid.UUID("1f00b659-5552-4bf7-a29a-ba58558e1da9")

KINDS: dict[str, str] = {
    "surname": "Patient shares the searcher's surname",
    "address": "Patient shares the searcher's work address",
    "hour": "Search far outside the searcher's usual hours",
    "volume": "Searches in a day well above the usual",
    "repeated": "Patient searched repeatedly with no dispensation linking them",
}
#: Whose searches of one patient a dispensation is expected to explain.
LINKED_ROLES = frozenset({"prescriber", "pharmacist", "delegate"})
#: Name particles not compared on their own ("De La Cruz" does not share "De Souza"'s name).
PARTICLES = frozenset({"DE", "DA", "DI", "DU", "LA", "LE", "VAN", "VON", "DER", "DEN", "DEL",
                       "DOS", "DAS", "DES", "LOS", "LAS", "MAC", "MC", "ST", "BIN"})  # fmt: skip
STREET_WORDS = {
    "STREET": "ST", "AVENUE": "AVE", "AV": "AVE", "ROAD": "RD", "DRIVE": "DR",
    "BOULEVARD": "BLVD", "LANE": "LN", "COURT": "CT", "PLACE": "PL", "SUITE": "STE",
    "APARTMENT": "APT", "UNIT": "APT", "NUMBER": "NO", "HIGHWAY": "HWY", "PARKWAY": "PKWY",
    "TERRACE": "TER", "CIRCLE": "CIR", "SQUARE": "SQ", "TURNPIKE": "TPKE", "FLOOR": "FL",
    "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
}  # fmt: skip


@dataclass(frozen=True)
class MisusePolicy:
    """The thresholds (``PMP_MISUSE_*``); every default is one a test shows both sides of."""

    baseline_days: int = 90  # usual hours and daily baselines look back this far
    hours_min_searches: int = 20  # fewer earlier searches than this: hours are not judged
    hours_coverage: float = 0.9  # the usual hours: the shortest band holding this share
    hours_margin: float = 3.0  # hours outside that band at least
    daily_factor: float = 3.0  # times the user's own and the peers' daily baselines
    daily_minimum: int = 30  # and never fewer searches than this in the day
    repeat_searches: int = 4  # searches of one patient...
    repeat_days: int = 30  # ...within this many days
    quiet_days: int = 30  # one signal per kind, user and patient (or day) in this period

    @classmethod
    def from_settings(cls, settings: Settings) -> MisusePolicy:
        return cls(
            baseline_days=settings.misuse_baseline_days,
            hours_min_searches=settings.misuse_hours_min_searches,
            hours_coverage=settings.misuse_hours_coverage / 100,
            hours_margin=settings.misuse_hours_margin,
            daily_factor=settings.misuse_daily_factor,
            daily_minimum=settings.misuse_daily_minimum,
            repeat_searches=settings.misuse_repeat_searches,
            repeat_days=settings.misuse_repeat_days,
            quiet_days=settings.misuse_quiet_days,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Address:
    """A street address compared normalised: capitals, no punctuation, common words
    shortened (AVENUE is AVE), ZIP to 5 digits."""

    street: str
    city: str = ""
    zip: str = ""

    @classmethod
    def of(cls, street: str | None, city: str | None = "", zip: str | None = "") -> Address | None:
        normal = street_key(street or "")
        if not normal:
            return None
        digits = re.sub(r"\D", "", zip or "")
        return cls(normal, _words(city or ""), digits[:5] if len(digits) >= 5 else "")

    @classmethod
    def from_lines(cls, lines: Sequence[str]) -> Address | None:
        """``["165 Capitol Avenue", "Hartford, CT 06106"]``: the street, then the city and
        ZIP from what follows it."""
        if not lines:
            return None
        rest = " ".join(lines[1:])
        zips = re.findall(r"\b(\d{5})(?:-\d{4})?\b", rest)
        city = rest.split(",")[0] if "," in rest else ""
        return cls.of(lines[0], city, zips[-1] if zips else "")

    def same_place(self, other: Address) -> bool:
        """The same street line, in the same ZIP (or, without one, the same city)."""
        if self.street != other.street:
            return False
        if self.zip and other.zip:
            return self.zip == other.zip
        return bool(self.city) and self.city == other.city

    def text(self) -> str:
        return ", ".join(part for part in (self.street, " ".join(
            p for p in (self.city, self.zip) if p)) if part)  # fmt: skip

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, str] | None) -> Address | None:
        return cls(**data) if data else None


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^A-Z0-9 ]", " ", text.upper()).split())


def street_key(text: str) -> str:
    return " ".join(STREET_WORDS.get(word, word) for word in _words(text).split())


def name_keys(surname: str | None) -> frozenset[str]:
    """How a surname is compared: the whole name in capital letters only, and each part of
    a compound name that is not a particle (SMITH-JONES shares SMITH and JONES)."""
    upper = (surname or "").upper()
    whole = re.sub(r"[^A-Z]", "", upper)
    if not whole:
        return frozenset()
    parts = {p for p in re.split(r"[^A-Z']+", upper.replace("'", "")) if len(p) >= 2}
    return frozenset({whole} | (parts - PARTICLES))


def identifier(kind: str, value: str | None) -> str | None:
    """``"DEA AB1234563"``: how a registration's and a dispensation's numbers compare."""
    normal = re.sub(r"[^A-Z0-9]", "", (value or "").upper())
    return f"{kind} {normal}" if normal else None


@dataclass(frozen=True)
class Searcher:
    """Who searched, as identity and registration know them."""

    account_id: str
    name: str
    role: str
    last_name: str
    address: Address | None = None  # the work address: the registration's, else identity's
    #: "DEA ...", "NPI ...", "NCPDP ...": their own and, for a delegate, their supervisor's.
    identifiers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Search:
    search_id: str
    account_id: str
    at: datetime  # UTC, as recorded
    last_name: str = ""  # as typed
    person_ids: tuple[str, ...] = ()  # the persons it found
    criteria_key: str = ""  # the patient searched for when nobody was found: name and birth


@dataclass(frozen=True)
class Patient:
    """A person as pharmacies reported them (one person, perhaps several records)."""

    person_id: str
    last_names: frozenset[str] = frozenset()
    addresses: tuple[Address, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """What a signal shows an administrator: a sentence, its numbers, the searches."""

    text: str
    numbers: dict[str, Any]
    search_ids: tuple[str, ...]
    times: tuple[datetime, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "numbers": self.numbers,
            "times": [t.isoformat() for t in self.times],
        }


# -- the five signals --------------------------------------------------------------------------


def shared_surname(searcher: Searcher, search: Search, patient: Patient | None) -> Evidence | None:
    """The surname typed, or one the patient found was reported under, is the searcher's."""
    mine = name_keys(searcher.last_name)
    typed = mine & name_keys(search.last_name)
    reported = mine & frozenset().union(*(name_keys(n) for n in patient.last_names)) if patient \
        else frozenset()  # fmt: skip
    if not (typed or reported):
        return None
    shared = sorted(typed | reported)[0]
    how = "searched for" if typed else "found a patient reported as"
    return Evidence(
        text=f"{searcher.name or 'The searcher'} {how} the surname {shared}, their own.",
        numbers={"surname": shared, "typed": bool(typed), "reported": bool(reported)},
        search_ids=(search.search_id,),
        times=(search.at,),
    )


def shared_address(searcher: Searcher, search: Search, patient: Patient | None) -> Evidence | None:
    """A pharmacy reported the patient at the searcher's work address."""
    if searcher.address is None or patient is None:
        return None
    if not any(searcher.address.same_place(a) for a in patient.addresses):
        return None
    return Evidence(
        text=f"A pharmacy reported the patient at {searcher.address.text()}, "
        f"{searcher.name or 'the searcher'}'s work address.",
        numbers={"address": searcher.address.text()},
        search_ids=(search.search_id,),
        times=(search.at,),
    )


def local_hour(moment: datetime, zone: ZoneInfo) -> float:
    local = moment.astimezone(zone)
    return local.hour + local.minute / 60 + local.second / 3600


def usual_band(hours: Sequence[float], coverage: float) -> tuple[float, float]:
    """The shortest band of the clock (start, length in hours) holding ``coverage`` of
    ``hours``; it may run through midnight."""
    ordered = sorted(h % 24 for h in hours)
    n = len(ordered)
    k = min(n, max(1, math.ceil(coverage * n - 1e-9)))
    best = (ordered[0], 24.0)
    for i in range(n):
        j = i + k - 1
        end = ordered[j % n] + (24 if j >= n else 0)
        length = end - ordered[i]
        if length < best[1]:
            best = (ordered[i], length)
    return best


def hours_outside(hour: float, band: tuple[float, float]) -> float:
    """How far ``hour`` is from the band, around the clock either way (0 inside it)."""
    start, length = band
    after_start = (hour - start) % 24
    if after_start <= length:
        return 0.0
    return min(after_start - length, 24 - after_start)


@dataclass(frozen=True)
class UsualHours:
    """When a user usually searches: the band of the clock (``start``, ``length`` in hours)
    holding ``hours_coverage`` of their ``searches`` in the baseline period."""

    start: float
    length: float
    searches: int


def usual_hours(
    earlier: Sequence[datetime], policy: MisusePolicy, zone: ZoneInfo
) -> UsualHours | None:
    """The usual hours of ``earlier`` (a user's searches in the baseline period before the
    day judged); None below ``hours_min_searches``: too few to call any hour unusual."""
    if len(earlier) < policy.hours_min_searches:
        return None
    start, length = usual_band([local_hour(t, zone) for t in earlier], policy.hours_coverage)
    return UsualHours(start, length, len(earlier))


def unusual_hour(
    search: Search, usual: UsualHours | None, policy: MisusePolicy, zone: ZoneInfo
) -> Evidence | None:
    """The search is ``hours_margin`` or more outside the user's usual hours."""
    if usual is None:
        return None
    hour = local_hour(search.at, zone)
    outside = hours_outside(hour, (usual.start, usual.length))
    if outside < policy.hours_margin:
        return None
    start, end = _clock(usual.start), _clock(usual.start + usual.length)
    at = search.at.astimezone(zone)
    return Evidence(
        text=f"Searched at {at:%H:%M}, {outside:.1f} hours outside their usual hours "
        f"({start} to {end}, from {usual.searches} searches in the "
        f"{policy.baseline_days} days before).",
        numbers={
            "hour": round(hour, 2),
            "usual_from": start,
            "usual_to": end,
            "hours_outside": round(outside, 2),
            "earlier_searches": usual.searches,
            "margin": policy.hours_margin,
        },  # fmt: skip
        search_ids=(search.search_id,),
        times=(search.at,),
    )


def _clock(hour: float) -> str:
    minutes = round(hour * 60) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class DailyBaseline:
    """The searches of a usual day: ``searches`` over the ``days`` searched in the baseline
    period (by a user, or by every peer of their role, each day of each peer counted)."""

    days: int = 0
    searches: int = 0

    @classmethod
    def of(cls, counts: Iterable[int]) -> DailyBaseline:
        counted = list(counts)
        return cls(len(counted), sum(counted))

    @property
    def mean(self) -> float:
        return self.searches / self.days if self.days else 0.0

    def __sub__(self, other: DailyBaseline) -> DailyBaseline:
        return DailyBaseline(self.days - other.days, self.searches - other.searches)


def volume_needed(own: DailyBaseline, peers: DailyBaseline, policy: MisusePolicy) -> float:
    """The searches in a day that raise a volume signal: ``daily_factor`` times both
    baselines, and ``daily_minimum``."""
    factor = policy.daily_factor
    return max(policy.daily_minimum, factor * own.mean, factor * peers.mean)


def daily_volume(
    day: date,
    today: Sequence[Search],
    own: DailyBaseline,
    peers: DailyBaseline,
    policy: MisusePolicy,
) -> Evidence | None:
    """``today``: the user's searches of ``day`` so far. ``own``, ``peers``: the user's and
    their peers' usual day in the baseline period before it."""
    count = len(today)
    if count < volume_needed(own, peers, policy):
        return None
    return Evidence(
        text=f"{count} searches on {day.isoformat()}, where their usual day has {own.mean:.1f} "
        f"and other users of their role {peers.mean:.1f} (raised at {policy.daily_factor:g} "
        f"times both, and at least {policy.daily_minimum}).",
        numbers={
            "day": day.isoformat(),
            "searches": count,
            "own_baseline": round(own.mean, 2),
            "peer_baseline": round(peers.mean, 2),
            "own_days": own.days,
            "peer_days": peers.days,
            "factor": policy.daily_factor,
            "minimum": policy.daily_minimum,
        },  # fmt: skip
        search_ids=tuple(s.search_id for s in today),
        times=tuple(s.at for s in today),
    )


def repeated_searches(
    searcher: Searcher,
    role: str,
    searches: Sequence[Search],
    linked: Callable[[], bool],
    policy: MisusePolicy,
) -> Evidence | None:
    """``searches``: the user's searches that found one patient, oldest first, the newest
    last. Raised when ``repeat_searches`` of them fall within ``repeat_days`` and no
    dispensation links the searcher to the patient (``linked`` is asked only then)."""
    if role not in LINKED_ROLES or not searches:
        return None
    newest = searches[-1].at
    recent = [s for s in searches if s.at > newest - timedelta(days=policy.repeat_days)]
    if len(recent) < policy.repeat_searches or linked():
        return None
    numbers = ", ".join(sorted(searcher.identifiers)) or "no DEA, NPI or NCPDP number on record"
    first = recent[0].at
    return Evidence(
        text=f"{len(recent)} searches of this patient in {_span(newest - first)}, and no "
        f"dispensation to the patient names them as prescriber or pharmacy ({numbers}).",
        numbers={
            "searches": len(recent),
            "days": policy.repeat_days,
            "threshold": policy.repeat_searches,
            "identifiers": sorted(searcher.identifiers),
        },  # fmt: skip
        search_ids=tuple(s.search_id for s in recent),
        times=tuple(s.at for s in recent),
    )


def _span(length: timedelta) -> str:
    days = length.total_seconds() / 86_400
    return f"{days:.1f} days" if days >= 1 else f"{length.total_seconds() / 3600:.1f} hours"


# -- once per period -----------------------------------------------------------------------


def due(last_raised: datetime | None, at: datetime, policy: MisusePolicy) -> bool:
    """Whether a signal of a kind may be raised at ``at`` for a user and subject last
    raised at ``last_raised`` (None: never)."""
    return last_raised is None or at - last_raised >= timedelta(days=policy.quiet_days)


def signal_id(kind: str, account_id: str, subject: str, cause: str) -> uuid.UUID:
    """The same signal on every replay: kind, searcher, subject and the search (or day)
    that raised it."""
    return uuid.uuid5(NAMESPACE, f"{kind}|{account_id}|{subject}|{cause}")


def criteria_key(criteria: Mapping[str, Any]) -> str:
    """The patient a search asked for, when it found nobody: names and birth date."""
    first = re.sub(r"[^A-Z]", "", str(criteria.get("first_name", "")).upper())
    last = re.sub(r"[^A-Z]", "", str(criteria.get("last_name", "")).upper())
    return f"asked:{last}|{first}|{criteria.get('birth_date', '')}"


def searcher_identifiers(form: Mapping[str, str]) -> frozenset[str]:
    """The numbers a registration form gives that a dispensation can name."""
    found = (identifier("DEA", form.get("dea_number")), identifier("NPI", form.get("npi")),
             identifier("NCPDP", form.get("ncpdp")))  # fmt: skip
    return frozenset(i for i in found if i)


def dispensation_identifiers(record: Mapping[str, Any]) -> dict[str, str | None]:
    """The numbers naming a dispensation's prescriber and pharmacy, as compared."""
    prescriber = record.get("prescriber") or {}
    pharmacy = record.get("pharmacy") or {}
    return {
        "prescriber_dea": identifier("DEA", prescriber.get("dea")),
        "prescriber_npi": identifier("NPI", prescriber.get("npi")),
        "pharmacy_ncpdp": identifier("NCPDP", pharmacy.get("ncpdp")),
        "pharmacy_npi": identifier("NPI", pharmacy.get("npi")),
    }


def of_kind(identifiers: Collection[str], kind: str) -> list[str]:
    return [i for i in identifiers if i.startswith(f"{kind} ")]
