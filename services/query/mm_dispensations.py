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
from typing import Any

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
    sa.Column("to_check", sa.Boolean, nullable=False),  # not valid that day, or not the holder
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
    sa.Column("history", sa.JSON, nullable=False),  # CardHistory.as_json
)

PAGE = 50
UNITS = {"01": "each", "02": "mL", "03": "g"}
Holder = tuple[str, str, str]  # first name, last name, date of birth (ISO)


class MarijuanaDispensations(Projection):
    """Dispensaries' dispensations by card number (the submissions service's events), judged
    against the registry's cards (the query service's own card events)."""

    name = "query.mm_dispensations"
    sources = ("submissions", "query")
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
            rows.append(_row(r, *judged(r, holder, history)))
        conn.execute(mm_dispensations.insert(), rows)

    def _card(self, conn: Connection, event: RecordedEvent) -> None:
        number, data = event.data["card_number"], event.data
        day = event.metadata.occurred_at.astimezone(self.timezone).date()
        holder, history = _facts(conn, {number}).get(number, (None, CardHistory()))
        if event.type == "CardRegistered":
            holder = (data["first_name"], data["last_name"], data["birth_date"])
        elif event.type == "CardDetailsCorrected" and holder is not None:
            first, last, born = holder
            changes = data["changes"]
            holder = (changes.get("first_name", first), changes.get("last_name", last),
                      changes.get("birth_date", born))  # fmt: skip
        if holder is None:
            return  # a change to a card never registered: nothing to judge by
        history = history.then(event.type, data, day)
        first, last, born = holder
        conn.execute(mm_card_facts.delete().where(mm_card_facts.c.card_number == number))
        conn.execute(mm_card_facts.insert().values(
            card_number=number, first_name=first, last_name=last, birth_date=born,
            history=history.as_json(),
        ))  # fmt: skip
        mine = sa.select(mm_dispensations.c.dispensation_id, mm_dispensations.c.record).where(
            mm_dispensations.c.card_number == number
        )
        for row in conn.execute(mine).all():
            standing, matches = judged(row.record, holder, history)
            conn.execute(
                mm_dispensations.update()
                .where(mm_dispensations.c.dispensation_id == row.dispensation_id)
                .values(standing=standing, holder_matches=matches,
                        to_check=_to_check(standing, matches))
            )  # fmt: skip


def _facts(conn: Connection, numbers: Iterable[str]) -> dict[str, tuple[Holder, CardHistory]]:
    query = sa.select(mm_card_facts).where(mm_card_facts.c.card_number.in_(list(numbers)))
    return {
        row.card_number: (
            (row.first_name, row.last_name, row.birth_date),
            CardHistory.from_json(row.history),
        )
        for row in conn.execute(query)
    }


def _to_check(standing: str, holder_matches: bool | None) -> bool:
    return standing != ON_VALID or holder_matches is False


def _row(record: dict[str, Any], standing: str, holder_matches: bool | None) -> dict[str, Any]:
    return {
        "dispensation_id": uuid.UUID(record["dispensation_id"]),
        "card_number": record["card_number"],
        "filled_on": date.fromisoformat(record["dispensation"]["date_filled"]),
        "record": record,
        "standing": standing,
        "holder_matches": holder_matches,
        "to_check": _to_check(standing, holder_matches),
    }


def judged(
    record: dict[str, Any], holder: Holder | None, history: CardHistory | None
) -> tuple[str, bool | None]:
    """The card's standing on the day the dispensation was filled, and whether the patient
    reported is the card's holder (same date of birth, a name patient search would take for
    theirs: a nickname or a typo, not another first name); None without a card."""
    filled = date.fromisoformat(record["dispensation"]["date_filled"])
    standing = (history or CardHistory()).standing_on(filled)
    if holder is None:
        return standing, None
    patient = record.get("patient", {})
    first, last, born = holder
    if patient.get("birth_date") != born:
        return standing, False
    alike = names_alike(
        patient.get("first_name", ""), patient.get("last_name", ""),
        normal_name(first), normal_name(last),
    )  # fmt: skip
    return standing, alike is not None


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
    shown = [shown_dispensation(r.record, r.standing, r.holder_matches) for r in rows]
    return {"dispensations": shown, "total": total, "page": page, "pages": pages}


def shown_dispensation(
    record: dict[str, Any], standing: str, holder_matches: bool | None
) -> dict[str, Any]:
    """A dispensation as the pages list it: when, where, what, who certified, who was
    reported as the patient, and how it was judged (``judged``)."""
    dispensary, patient = record.get("dispensary", {}), record.get("patient", {})
    dsp, certifier = record["dispensation"], record.get("certifier", {})
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
        "card_standing": standing,
        "holder_matches": holder_matches,
    }


def _person(values: dict[str, Any]) -> str:
    return " ".join(p for p in (values.get("first_name"), values.get("last_name")) if p)


def _first(values: dict[str, Any], keys: tuple[str, ...]) -> str:
    return next((str(values[k]) for k in keys if values.get(k)), "")
