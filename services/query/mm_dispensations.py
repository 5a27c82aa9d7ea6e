"""Medical marijuana dispensations linked to the registry's card holders.

Dispensaries report through the submissions service like pharmacies, with DSP07 ``MM`` and
the holder's registry card number in PAT03 (``docs/mm-registry.md``); submissions records
them as ``MarijuanaDispensationsRecorded`` apart from Schedule II-V dispensations, so no
Patient History Report, alert or statistic counts them. This read model keeps them by card
number, with what each card's events say (``mm_card_facts``: the holder, the certification
periods and revocations), and judges each dispensation: the card's standing on the day it
was filled, and whether the patient reported is the card's holder. A card event judges the
card's dispensations again, so the order in which the registry file and the dispensary's
file arrive does not matter, and the purchases an administrator should check are one query.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.config import load_settings
from pmp.envelope import RecordedEvent
from pmp.projector import Projection
from services.query.mm_cards import ON_VALID, CardHistory, normal_name
from services.query.mm_registry import CARD_EVENTS
from services.query.search import names_alike

metadata = sa.MetaData()

mm_dispensations = sa.Table(
    "mm_dispensations",
    metadata,
    sa.Column("dispensation_id", sa.Uuid, primary_key=True),
    sa.Column("card_number", sa.String(20), nullable=False),
    sa.Column("filled_on", sa.Date, nullable=False),
    sa.Column("record", sa.JSON, nullable=False),  # the submissions record, as received
    sa.Column("standing", sa.String(20), nullable=False),  # the card's, on filled_on
    sa.Column("holder_matches", sa.Boolean, nullable=True),  # None: no card to compare
    sa.Column("pickup_matches", sa.Boolean, nullable=True),  # None: the holder took it
    sa.Column("to_check", sa.Boolean, nullable=False),  # any of the three not as it should be
    sa.Index("mm_dispensations_card", "card_number", "filled_on"),
    sa.Index("mm_dispensations_to_check", "to_check", "filled_on"),
)

mm_card_facts = sa.Table(
    "mm_card_facts",
    metadata,
    sa.Column("card_number", sa.String(20), primary_key=True),
    sa.Column("first_name", sa.String(60), nullable=False),
    sa.Column("last_name", sa.String(60), nullable=False),
    sa.Column("birth_date", sa.String(10), nullable=False),  # ISO, as the records carry it
    sa.Column("caregiver", sa.String(120), nullable=False),  # "" when the holder has none
    sa.Column("history", sa.JSON, nullable=False),  # CardHistory.as_json
)

PAGE = 50
UNITS = {"01": "each", "02": "mL", "03": "g"}
RELATIONSHIPS = {"01": "patient", "02": "parent or legal guardian", "03": "spouse",
                 "04": "caregiver", "99": "other"}  # fmt: skip
Holder = tuple[str, str, str, str]  # first name, last name, date of birth (ISO), caregiver
HOLDER_FIELDS = ("first_name", "last_name", "birth_date", "caregiver")


class Judgement(NamedTuple):
    """How a dispensation stands against its card (``judged``)."""

    standing: str  # the card's, on the day it was filled
    holder_matches: bool | None  # the patient reported is the holder; None: no card
    pickup_matches: bool | None  # whoever else took it is the caregiver; None: nobody else

    @property
    def to_check(self) -> bool:
        return (
            self.standing != ON_VALID
            or self.holder_matches is False
            or self.pickup_matches is False
        )


class MarijuanaDispensations(Projection):
    """Dispensaries' dispensations by card number (the submissions service's events), judged
    against the registry's cards (the query service's own card events)."""

    name = "query.mm_dispensations"
    sources = ("submissions", "query")
    types = {
        "submissions": frozenset({"MarijuanaDispensationsRecorded", "MarijuanaDispensationRevised",
                                  "MarijuanaDispensationVoided"}),
        "query": frozenset(CARD_EVENTS),
    }  # fmt: skip
    metadata = metadata

    def __init__(self) -> None:
        self.timezone = load_settings().timezone

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        data = event.data
        if event.type == "MarijuanaDispensationsRecorded":
            self._record(conn, data["records"])
        elif event.type == "MarijuanaDispensationRevised":
            voided = mm_dispensations.c.dispensation_id == uuid.UUID(data["dispensation_id"])
            conn.execute(mm_dispensations.delete().where(voided))
            self._record(conn, [{**data["record"], "dispensation_id": data["dispensation_id"]}])
        elif event.type == "MarijuanaDispensationVoided":
            voided = mm_dispensations.c.dispensation_id == uuid.UUID(data["dispensation_id"])
            conn.execute(mm_dispensations.delete().where(voided))
        elif source == "query" and event.type in CARD_EVENTS:
            self._card(conn, event)

    def _record(self, conn: Connection, records: list[dict[str, Any]]) -> None:
        facts = _facts(conn, {r["card_number"] for r in records})
        rows = []
        for r in records:
            holder, history = facts.get(r["card_number"], (None, None))
            rows.append(_row(r, judged(r, holder, history)))
        conn.execute(mm_dispensations.insert(), rows)

    def _card(self, conn: Connection, event: RecordedEvent) -> None:
        number, data = event.data["card_number"], event.data
        day = event.metadata.occurred_at.astimezone(self.timezone).date()
        holder, history = _facts(conn, {number}).get(number, (None, CardHistory()))
        if event.type == "CardRegistered":
            holder = tuple(data[k] for k in HOLDER_FIELDS)  # type: ignore[assignment]
        elif event.type == "CardDetailsCorrected" and holder is not None:
            changes = data["changes"]
            holder = tuple(  # type: ignore[assignment]
                changes.get(k, was) for k, was in zip(HOLDER_FIELDS, holder, strict=True)
            )
        if holder is None:
            return  # a change to a card never registered: nothing to judge by
        history = history.then(event.type, data, day)
        conn.execute(mm_card_facts.delete().where(mm_card_facts.c.card_number == number))
        conn.execute(mm_card_facts.insert().values(
            card_number=number, **dict(zip(HOLDER_FIELDS, holder, strict=True)),
            history=history.as_json(),
        ))  # fmt: skip
        mine = sa.select(mm_dispensations.c.dispensation_id, mm_dispensations.c.record).where(
            mm_dispensations.c.card_number == number
        )
        for row in conn.execute(mine).all():
            judgement = judged(row.record, holder, history)
            conn.execute(
                mm_dispensations.update()
                .where(mm_dispensations.c.dispensation_id == row.dispensation_id)
                .values(**judgement._asdict(), to_check=judgement.to_check)
            )


def _facts(conn: Connection, numbers: Iterable[str]) -> dict[str, tuple[Holder, CardHistory]]:
    query = sa.select(mm_card_facts).where(mm_card_facts.c.card_number.in_(list(numbers)))
    return {
        row.card_number: (
            tuple(getattr(row, k) for k in HOLDER_FIELDS),
            CardHistory.from_json(row.history),
        )
        for row in conn.execute(query)
    }


def _row(record: dict[str, Any], judgement: Judgement) -> dict[str, Any]:
    return {
        "dispensation_id": uuid.UUID(record["dispensation_id"]),
        "card_number": record["card_number"],
        "filled_on": date.fromisoformat(record["dispensation"]["date_filled"]),
        "record": record,
        **judgement._asdict(),
        "to_check": judgement.to_check,
    }


def judged(record: dict[str, Any], holder: Holder | None, history: CardHistory | None) -> Judgement:
    """The card's standing on the day the dispensation was filled; whether the patient
    reported is the card's holder (same date of birth, a name patient search would take for
    theirs: a nickname or a typo, not another first name); and, when somebody else took it
    away (AIR), whether that is the card's caregiver. Without a card, no holder to compare."""
    filled = date.fromisoformat(record["dispensation"]["date_filled"])
    standing = (history or CardHistory()).standing_on(filled)
    if holder is None:
        return Judgement(standing, None, None)
    patient = record.get("patient", {})
    first, last, born, caregiver = holder
    is_holder = patient.get("birth_date") == born and _alike(
        patient.get("first_name", ""), patient.get("last_name", ""), first, last
    )
    return Judgement(standing, is_holder, _pickup_matches(record, caregiver))


def _pickup_matches(record: dict[str, Any], caregiver: str) -> bool | None:
    """None when the holder took it (or nobody was named); else whether the person named is
    the card's caregiver (a holder without one has nobody else to send)."""
    taker = record["dispensation"].get("picked_up_by") or {}
    first, last = taker.get("person_first_name", ""), taker.get("person_last_name", "")
    if taker.get("person_relationship") == "01" or not (first or last):
        return None
    given, _, family = caregiver.partition(" ")  # the registry writes one name: "Grace Okafor"
    return bool(caregiver) and _alike(first, last, given, family)


def _alike(first: str, last: str, given: str, family: str) -> bool:
    """Whether ``first`` ``last`` as reported names the person registered as ``given``
    ``family``, as patient search would take it."""
    return names_alike(first, last, normal_name(given), normal_name(family)) is not None


def of_card(conn: Connection, card_number: str) -> list[dict[str, Any]]:
    """The card number's dispensations, newest first, as submitted."""
    query = (
        sa.select(mm_dispensations.c.record)
        .where(mm_dispensations.c.card_number == card_number)
        .order_by(mm_dispensations.c.filled_on.desc(), mm_dispensations.c.dispensation_id)
    )
    return [row.record for row in conn.execute(query)]


def to_check(conn: Connection, page: int = 1) -> dict[str, Any]:
    """The dispensations an administrator should check, newest first: under a number no
    card has, on a day the card was not valid, or to somebody who is not the holder."""
    flagged = mm_dispensations.c.to_check.is_(True)
    total = conn.execute(
        sa.select(sa.func.count()).select_from(mm_dispensations).where(flagged)
    ).scalar_one()
    pages = max(1, -(-total // PAGE))
    page = min(max(1, page), pages)
    rows = conn.execute(
        sa.select(mm_dispensations)
        .where(flagged)
        .order_by(mm_dispensations.c.filled_on.desc(), mm_dispensations.c.dispensation_id)
        .limit(PAGE)
        .offset((page - 1) * PAGE)
    )
    shown = [
        shown_dispensation(r.record, Judgement(r.standing, r.holder_matches, r.pickup_matches))
        for r in rows
    ]
    return {"dispensations": shown, "total": total, "page": page, "pages": pages}


def shown_dispensation(record: dict[str, Any], judgement: Judgement) -> dict[str, Any]:
    """A dispensation as the pages list it: when, where, what, who certified, who was
    reported as the patient and who took it away, and how it was judged (``judged``)."""
    dispensary, patient = record.get("dispensary", {}), record.get("patient", {})
    dsp, certifier = record["dispensation"], record.get("certifier", {})
    taker = dsp.get("picked_up_by") or {}
    taken_by = " ".join(
        p for p in (taker.get("person_first_name"), taker.get("person_last_name")) if p
    )
    return {
        "dispensation_id": record["dispensation_id"],
        "card_number": record["card_number"],
        "filled_on": dsp["date_filled"],
        "dispensary": dispensary.get("name") or _first(dispensary, ("npi", "ncpdp", "dea")),
        "product": dsp.get("ndc", ""),
        "quantity": dsp.get("quantity", ""),
        "unit": UNITS.get(dsp.get("dosage_units_code", ""), ""),
        "days_supply": dsp.get("days_supply"),
        "certifier": _person(certifier) or _first(certifier, ("npi", "dea", "state_license")),
        "patient": _person(patient),
        "patient_birth_date": patient.get("birth_date", ""),
        "picked_up_by": taken_by,
        "picked_up_as": RELATIONSHIPS.get(taker.get("person_relationship", ""), ""),
        "card_standing": judgement.standing,
        "holder_matches": judgement.holder_matches,
        "pickup_matches": judgement.pickup_matches,
        "to_check": judgement.to_check,
    }


def _person(values: dict[str, Any]) -> str:
    return " ".join(p for p in (values.get("first_name"), values.get("last_name")) if p)


def _first(values: dict[str, Any], keys: tuple[str, ...]) -> str:
    return next((str(values[k]) for k in keys if values.get(k)), "")
