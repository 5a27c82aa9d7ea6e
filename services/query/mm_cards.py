"""The medical marijuana registry's card: its events, its validity on a day, and the CSV rows
administrators load it from. Pure: no I/O; the day is passed in.

A ``Card`` is folded from its stream (``mm-card-<number>``). ``reconcile`` compares a row of
the registry file with the card as it stands and returns the changes to append: a new card
(``CardRegistered``), a later certification (``CardRenewed``, which also reinstates a revoked
card), a revocation (``CardRevoked``) and corrected details (``CardDetailsCorrected``). A row
that says what the card already says changes nothing, so loading one file twice records
nothing the second time. ``read_rows`` checks a file line by line; each refusal names the
line and the field. The layout is documented in ``docs/mm-registry.md``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

Change = tuple[str, dict[str, Any]]

VALID, EXPIRED, REVOKED, NOT_FOUND = "VALID", "EXPIRED", "REVOKED", "NOT FOUND"

#: The columns of a registry file, in order (a header line names them).
COLUMNS = (
    "card_number",
    "last_name",
    "first_name",
    "birth_date",
    "address",
    "city",
    "state",
    "zip",
    "practitioner",
    "practitioner_npi",
    "caregiver",
    "issue_date",
    "expiry_date",
    "status",
)
REQUIRED = frozenset(COLUMNS) - {"practitioner_npi", "caregiver"}
STATUSES = ("active", "expired", "revoked")
HOLDER_FIELDS = ("first_name", "last_name", "birth_date", "address", "city", "state", "zip")
#: What a correction may change (a renewal changes the dates and the practitioner).
CORRECTABLE = (*HOLDER_FIELDS, "practitioner", "practitioner_npi", "caregiver", "expiry_date")
MAX_LENGTH = {"address": 120, "city": 60, "practitioner": 120, "caregiver": 120}
CARD_NUMBER = re.compile(r"^[A-Z0-9-]{4,20}$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z .'-]{0,59}$")


def card_stream(card_number: str) -> str:
    return f"mm-card-{card_number}"


def normal_name(name: str) -> str:
    """A name as the registry compares it: upper case, single spaces."""
    return " ".join(name.upper().split())


class RowRefused(ValueError):
    """A row the registry cannot take; ``field`` names the column to fix."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class RowError:
    """One line of an import's error report."""

    line: int
    field: str
    value: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "field": self.field,
            "value": self.value,
            "message": self.message,
        }


@dataclass(frozen=True)
class CardRow:
    """A row that passed every check of its own (the card's history is checked later)."""

    line: int
    card_number: str
    values: dict[str, Any]  # every column but card_number and status; dates as ``date``
    status: str

    def details(self) -> dict[str, str]:
        """The values as events carry them (dates in ISO form)."""
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in self.values.items()}


@dataclass
class Card:
    """A registry card as its events left it."""

    card_number: str
    details: dict[str, str] = field(default_factory=dict)  # HOLDER_FIELDS etc., ISO dates
    revoked: bool = False
    revoked_reason: str = ""
    version: int = 0

    @classmethod
    def fold(cls, card_number: str, events: Iterable[tuple[str, dict[str, Any]]]) -> Card | None:
        card = cls(card_number)
        for kind, data in events:
            card.version += 1
            if kind == "CardRegistered":
                card.details = {k: data[k] for k in CORRECTABLE + ("issue_date",)}
            elif kind == "CardRenewed":
                card.details.update({k: data[k] for k in _RENEWED})
                card.revoked, card.revoked_reason = False, ""
            elif kind == "CardRevoked":
                card.revoked, card.revoked_reason = True, data["reason"]
            elif kind == "CardDetailsCorrected":
                card.details.update(data["changes"])
        return card if card.version else None

    @property
    def issue_date(self) -> date:
        return date.fromisoformat(self.details["issue_date"])

    @property
    def expiry_date(self) -> date:
        return date.fromisoformat(self.details["expiry_date"])


_RENEWED = ("issue_date", "expiry_date", "practitioner", "practitioner_npi")


def validity(card: Card | None, today: date) -> str:
    """VALID, EXPIRED, REVOKED or NOT FOUND, as an officer reads it ``today``: a card is
    valid through its expiry date and expired the day after."""
    if card is None:
        return NOT_FOUND
    if card.revoked:
        return REVOKED
    if today > card.expiry_date:
        return EXPIRED
    return VALID


#: A card's standing on the day of a dispensation (as the administrators' card record shows it).
ON_VALID, ON_EXPIRED, ON_NOT_YET_ISSUED, ON_REVOKED, ON_NO_CARD = (
    "valid", "expired", "not yet issued", "revoked", "no such card",
)  # fmt: skip


@dataclass(frozen=True)
class CardHistory:
    """A card's certification periods and revocations, from its events: what a past day's
    standing needs (a renewal replaces the card's dates, an earlier period stays covered)."""

    periods: tuple[tuple[date, date], ...] = ()  # (issue date, expiry date), oldest first
    revoked: tuple[tuple[date, date | None], ...] = ()  # (recorded on, reinstated from)

    @classmethod
    def of(cls, events: Iterable[tuple[str, dict[str, Any], date]]) -> CardHistory:
        """``events`` as (type, data, the day it was recorded in the program's zone)."""
        history = cls()
        for kind, data, day in events:
            history = history.then(kind, data, day)
        return history

    def then(self, kind: str, data: dict[str, Any], day: date) -> CardHistory:
        """The history after one more event (a read model keeps it event by event)."""
        periods, revoked = list(self.periods), list(self.revoked)
        reinstatable = bool(revoked) and revoked[-1][1] is None
        if kind in ("CardRegistered", "CardRenewed"):
            issued = date.fromisoformat(data["issue_date"])
            periods.append((issued, date.fromisoformat(data["expiry_date"])))
            if reinstatable:
                revoked[-1] = (revoked[-1][0], issued)
        elif kind == "CardDetailsCorrected" and "expiry_date" in data["changes"] and periods:
            periods[-1] = (periods[-1][0], date.fromisoformat(data["changes"]["expiry_date"]))
        elif kind == "CardRevoked" and not reinstatable:
            revoked.append((day, None))
        return CardHistory(tuple(periods), tuple(revoked))

    def as_json(self) -> dict[str, list[list[str | None]]]:
        return {
            "periods": [[a.isoformat(), b.isoformat()] for a, b in self.periods],
            "revoked": [[a.isoformat(), b.isoformat() if b else None] for a, b in self.revoked],
        }

    @classmethod
    def from_json(cls, saved: dict[str, list[list[str | None]]]) -> CardHistory:
        def day(text: str | None) -> date | None:
            return date.fromisoformat(text) if text else None

        return cls(
            tuple((day(a), day(b)) for a, b in saved["periods"]),  # type: ignore[misc]
            tuple((day(a), day(b)) for a, b in saved["revoked"]),  # type: ignore[misc]
        )

    def standing_on(self, day: date) -> str:
        """Revoked from the day the revocation was recorded until a renewal's issue date;
        else valid within a certification period (through its expiry date); else not yet
        issued before the first, expired after one."""
        if not self.periods:
            return ON_NO_CARD
        if any(start <= day and (until is None or day < until) for start, until in self.revoked):
            return ON_REVOKED
        if any(issued <= day <= expiry for issued, expiry in self.periods):
            return ON_VALID
        if day < self.periods[0][0]:
            return ON_NOT_YET_ISSUED
        return ON_EXPIRED


def reconcile(card: Card | None, row: CardRow, source: dict[str, Any]) -> list[Change]:
    """The changes that make ``card`` say what ``row`` says (none if it already does).
    ``source`` (file and line) goes into each event. Raises ``RowRefused``."""
    wanted = row.details()
    number = row.card_number
    if card is None:
        changes: list[Change] = [
            ("CardRegistered", {"card_number": number, **wanted, "source": source})
        ]
        if row.status == "revoked":
            changes.append(_revoked(number, source))
        return changes
    changes = []
    if row.values["issue_date"] < card.issue_date:
        raise RowRefused(
            "issue_date",
            f"Card {number} was certified again on {card.issue_date.isoformat()}; "
            "this row is older.",
        )
    renewed = row.values["issue_date"] > card.issue_date
    if renewed:
        changes.append(
            ("CardRenewed", {"card_number": number, **{k: wanted[k] for k in _RENEWED},
                             "source": source})
        )  # fmt: skip
    elif card.revoked and row.status != "revoked":
        raise RowRefused(
            "status",
            f"Card {number} was revoked; only a renewal (a later issue_date) reinstates it.",
        )
    after_renewal = {**card.details, **({k: wanted[k] for k in _RENEWED} if renewed else {})}
    corrected = {k: wanted[k] for k in CORRECTABLE if wanted[k] != after_renewal.get(k)}
    if corrected:
        changes.append(
            ("CardDetailsCorrected", {"card_number": number, "changes": corrected,
                                      "source": source})
        )  # fmt: skip
    still_revoked = card.revoked and not renewed
    if row.status == "revoked" and not still_revoked:
        changes.append(_revoked(number, source))
    return changes


def _revoked(number: str, source: dict[str, Any]) -> Change:
    return ("CardRevoked", {"card_number": number, "reason": "revoked in the registry file",
                            "source": source})  # fmt: skip


# -- the file ---------------------------------------------------------------------------------


class FileRefused(ValueError):
    """The file as a whole cannot be read (no header, wrong columns)."""


def read_rows(lines: Iterable[str], today: date) -> Iterator[CardRow | list[RowError]]:
    """Each data line of a registry file, checked on its own: a ``CardRow``, or the line's
    errors (one per bad field). A card number seen on an earlier line is refused."""
    reader = csv.reader(lines)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise FileRefused("The file is empty: it needs the header line.") from None
    except csv.Error as exc:
        raise FileRefused(f"line 1: {exc}") from None
    missing = [c for c in COLUMNS if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    if missing or unknown:
        said = "; ".join(
            part
            for part in (
                f"missing columns: {', '.join(missing)}" if missing else "",
                f"unknown columns: {', '.join(unknown)}" if unknown else "",
            )
            if part
        )
        raise FileRefused(f"line 1: {said} (see the documented layout).")
    seen: dict[str, int] = {}
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield [RowError(reader.line_num, "_line", "", f"The line cannot be read: {exc}")]
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) != len(header):
            yield [
                RowError(
                    line, "_line", "", f"{len(cells)} fields where the header has {len(header)}."
                )
            ]
            continue
        row = check_row(line, dict(zip(header, cells, strict=True)), today)
        if isinstance(row, CardRow):
            first = seen.setdefault(row.card_number, line)
            if first != line:
                yield [
                    RowError(
                        line,
                        "card_number",
                        row.card_number,
                        f"Card {row.card_number} is already on line {first} of this file.",
                    )  # fmt: skip
                ]
                continue
        yield row


def check_row(line: int, raw: dict[str, str], today: date) -> CardRow | list[RowError]:
    """One row's own checks: required fields, formats, dates and how they relate."""
    errors: list[RowError] = []
    cells = {k: (v or "").strip() for k, v in raw.items()}

    def refuse(name: str, message: str) -> None:
        errors.append(RowError(line, name, cells.get(name, ""), message))

    for name in COLUMNS:
        if name in REQUIRED and not cells[name]:
            refuse(name, "This field is required.")
    number = cells["card_number"].upper()
    if number and not CARD_NUMBER.match(number):
        refuse("card_number", "Use 4 to 20 letters, digits or hyphens.")
    for name in ("first_name", "last_name"):
        if cells[name] and not _NAME.match(cells[name]):
            refuse(name, "Use letters, spaces, hyphens and apostrophes (up to 60).")
    for name, longest in MAX_LENGTH.items():
        if len(cells[name]) > longest:
            refuse(name, f"At most {longest} characters.")
    if cells["state"] and not re.fullmatch(r"[A-Za-z]{2}", cells["state"]):
        refuse("state", "Give the two-letter state code.")
    if cells["zip"] and not re.fullmatch(r"[0-9]{5}(-[0-9]{4})?", cells["zip"]):
        refuse("zip", "Give 5 digits (or ZIP+4).")
    if cells["practitioner_npi"] and not re.fullmatch(r"[0-9]{10}", cells["practitioner_npi"]):
        refuse("practitioner_npi", "An NPI has 10 digits.")
    status = cells["status"].lower()
    if status and status not in STATUSES:
        refuse("status", f"Use one of: {', '.join(STATUSES)}.")
    dates: dict[str, date] = {}
    for name in ("birth_date", "issue_date", "expiry_date"):
        if cells[name]:
            try:
                dates[name] = date.fromisoformat(cells[name])
            except ValueError:
                refuse(name, "Give a date as YYYY-MM-DD.")
            else:
                if len(cells[name]) != 10:
                    refuse(name, "Give a date as YYYY-MM-DD.")
                    del dates[name]
    born, issued, expires = (dates.get(k) for k in ("birth_date", "issue_date", "expiry_date"))
    if born and not date(1900, 1, 1) <= born <= today:
        refuse("birth_date", "The date of birth is not a possible one.")
    if issued and issued > today:
        refuse("issue_date", "A card cannot be issued in the future.")
    if issued and expires and expires < issued:
        refuse("expiry_date", "The card expires before it was issued.")
    if expires and status == "expired" and expires >= today:
        refuse("status", f"The row says expired but the card runs to {expires.isoformat()}.")
    if errors:
        return errors
    values: dict[str, Any] = {
        name: cells[name] for name in COLUMNS if name not in ("card_number", "status")
    }
    values.update(dates)
    values["state"] = values["state"].upper()
    return CardRow(line, number, values, status)
