"""The medical marijuana registry in the query service: loading a registry file, the
``mm_cards`` read model (which cards a name and date of birth hold), and verifications.

A card's stream (``mm-card-<number>``) is its record; loading folds each card named in the
file and appends what the row changes (``mm_cards.reconcile``). Verifying by card number
folds that one stream, so a card loaded a moment ago is found at once; by name and date of
birth it asks the read model for the cards born that day and keeps those whose names match
as patient search matches names (a typo forgiven; the date exact). What an officer is told is only
``VERIFIED_FIELDS``: no address, no practitioner, no prescriptions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.envelope import RecordedEvent
from pmp.eventstore import ConcurrencyError
from pmp.projector import Projection
from services.query.mm_cards import (
    EXPIRED,
    NOT_FOUND,
    REVOKED,
    VALID,
    Card,
    CardRow,
    FileRefused,
    RowError,
    RowRefused,
    card_stream,
    normal_name,
    read_rows,
    reconcile,
    validity,
)
from services.query.search import names_alike

__all__ = ["FileRefused", "RegistryImport", "mm_cards", "verify"]

metadata = sa.MetaData()

mm_cards = sa.Table(
    "mm_cards",
    metadata,
    sa.Column("card_number", sa.String(20), primary_key=True),
    sa.Column("first_name", sa.String(60), nullable=False),  # normal_name
    sa.Column("last_name", sa.String(60), nullable=False),  # normal_name
    sa.Column("birth_date", sa.Date, nullable=False),
    sa.Index("mm_cards_birth_date", "birth_date"),
)

CARD_EVENTS = ("CardRegistered", "CardRenewed", "CardRevoked", "CardDetailsCorrected")
#: What a verification shows of a card, and nothing else.
VERIFIED_FIELDS = ("name", "birth_date", "expiry_date", "caregiver", "status")
_ORDER = {VALID: 0, EXPIRED: 1, REVOKED: 2}


class RegistryCards(Projection):
    """Which cards each holder's name and date of birth hold (the query service's own
    events: card changes only)."""

    name = "query.mm_cards"
    sources = ("query",)
    metadata = metadata
    types = {"query": frozenset({"CardRegistered", "CardDetailsCorrected"})}

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        data = event.data if event.type == "CardRegistered" else event.data["changes"]
        values = {key: normal_name(data[key]) for key in ("first_name", "last_name") if key in data}
        if "birth_date" in data:
            values["birth_date"] = date.fromisoformat(data["birth_date"])
        number = event.data["card_number"]
        if event.type == "CardRegistered":
            conn.execute(sa.delete(mm_cards).where(mm_cards.c.card_number == number))
            conn.execute(mm_cards.insert().values(card_number=number, **values))
        elif values:
            conn.execute(
                sa.update(mm_cards).where(mm_cards.c.card_number == number).values(**values)
            )


def cards_of(conn: Connection, first_name: str, last_name: str, born: date) -> list[str]:
    """The card numbers held by this name and date of birth. The date is exact (no day and
    month swap: it chooses the candidates); the names are compared as patient search compares
    them (``search.names_alike``: case, accents and punctuation ignored, a typo or a
    spelling variant forgiven, nicknames and either part of a double surname recognised).
    Only the best-matching cards are returned, so a card whose name is exactly the one typed
    hides a sibling's born the same day whose name is a letter away."""
    query = sa.select(mm_cards.c.card_number, mm_cards.c.first_name, mm_cards.c.last_name).where(
        mm_cards.c.birth_date == born
    )
    scored = [
        (alike, row.card_number)
        for row in conn.execute(query)
        if (alike := names_alike(first_name, last_name, row.first_name, row.last_name)) is not None
    ]
    best = max((alike for alike, _ in scored), default=None)
    return sorted(number for alike, number in scored if alike == best)


# -- loading a file ---------------------------------------------------------------------------


class Store(Protocol):
    def read_stream(self, stream: str, after_version: int = 0) -> list[RecordedEvent]: ...


Append = Callable[[str, int, list[tuple[str, dict[str, Any]]]], int]


def load_card(store: Store, card_number: str) -> Card | None:
    events = store.read_stream(card_stream(card_number))
    return Card.fold(card_number, [(e.type, e.data) for e in events])


class RegistryImport:
    """One registry file loaded: good rows recorded, bad ones reported, line by line."""

    def __init__(self, store: Store, append: Append, filename: str, today: date):
        self.store = store
        self.append = append
        self.filename = filename
        self.today = today
        self.counts = dict.fromkeys(
            ("lines", "registered", "renewed", "revoked", "corrected", "unchanged", "refused"), 0
        )
        self.errors: list[RowError] = []

    def run(
        self, lines: Iterable[str], progress: Callable[[int], None] | None = None
    ) -> dict[str, Any]:
        """Read every line (``FileRefused`` if the header is wrong); the outcome."""
        for found in read_rows(lines, self.today):
            self.counts["lines"] += 1
            if isinstance(found, CardRow):
                self._record(found)
            else:
                self._refuse(found)
            if progress:
                progress(self.counts["lines"])
        return self.outcome()

    def outcome(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "counts": dict(self.counts),
            "errors": [e.as_dict() for e in self.errors],
        }

    def _record(self, row: CardRow) -> None:
        source = {"filename": self.filename, "line": row.line}
        for _attempt in range(3):
            card = load_card(self.store, row.card_number)
            try:
                changes = reconcile(card, row, source)
            except RowRefused as exc:
                value = str(row.values.get(exc.field, row.status if exc.field == "status" else ""))
                self._refuse([RowError(row.line, exc.field, value, str(exc))])
                return
            if not changes:
                self.counts["unchanged"] += 1
                return
            try:
                self.append(card_stream(row.card_number), card.version if card else 0, changes)
            except ConcurrencyError:
                continue  # someone else changed the card meanwhile: reconcile again
            for kind, _ in changes:
                key = kind.removeprefix("Card").replace("DetailsCorrected", "Corrected").lower()
                self.counts[key] += 1
            return
        self._refuse(
            [RowError(row.line, "card_number", row.card_number, "The card kept changing; retry.")]
        )

    def _refuse(self, errors: list[RowError]) -> None:
        self.counts["refused"] += 1
        self.errors.extend(errors)


# -- verifying --------------------------------------------------------------------------------


def verify(
    store: Store, conn: Connection, query: dict[str, Any], today: date
) -> tuple[str, list[str], list[dict[str, str]]]:
    """The result an officer sees (VALID, EXPIRED, REVOKED or NOT FOUND), the numbers of the
    cards found (for the record) and the cards as shown, each with only ``VERIFIED_FIELDS``;
    the card that is valid (or newest) comes first."""
    if query.get("card_number"):
        numbers = [query["card_number"].strip().upper()]
    else:
        numbers = cards_of(conn, query["first_name"], query["last_name"], query["birth_date"])
    cards = [card for card in (load_card(store, n) for n in numbers) if card is not None]
    found = [(card.card_number, _shown(card, validity(card, today))) for card in cards]
    found.sort(key=lambda c: c[1]["expiry_date"], reverse=True)  # newest first
    found.sort(key=lambda c: _ORDER[c[1]["status"]])  # then valid, expired, revoked
    result = found[0][1]["status"] if found else NOT_FOUND
    return result, [number for number, _ in found], [shown for _, shown in found]


def _shown(card: Card, status: str) -> dict[str, str]:
    d = card.details
    return {
        "name": f"{d['first_name']} {d['last_name']}",
        "birth_date": d["birth_date"],
        "expiry_date": d["expiry_date"],
        "caregiver": d["caregiver"],
        "status": status,
    }
