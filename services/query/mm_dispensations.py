"""Medical marijuana dispensations linked to the registry's card holders.

Dispensaries report through the submissions service like pharmacies, with DSP07 ``MM`` and
the holder's registry card number in PAT03 (``docs/mm-registry.md``); submissions records
them as ``MarijuanaDispensationsRecorded`` apart from Schedule II-V dispensations, so no
Patient History Report, alert or statistic counts them. This read model keeps them by card
number. The link to the holder is made when read, by card number: a dispensation reported
before its card was loaded is linked as soon as the card is. Each one shows the card's
standing on the day it was filled and whether the patient reported is the card's holder.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.envelope import RecordedEvent
from pmp.projector import Projection
from services.query.mm_cards import Card, CardHistory, normal_name
from services.query.mm_registry import mm_cards
from services.query.search import names_alike

metadata = sa.MetaData()

mm_dispensations = sa.Table(
    "mm_dispensations",
    metadata,
    sa.Column("dispensation_id", sa.Uuid, primary_key=True),
    sa.Column("card_number", sa.String(20), nullable=False),
    sa.Column("filled_on", sa.Date, nullable=False),
    sa.Column("record", sa.JSON, nullable=False),  # the submissions record, as received
    sa.Index("mm_dispensations_card", "card_number", "filled_on"),
)

PAGE = 50
UNITS = {"01": "each", "02": "mL", "03": "g"}


class MarijuanaDispensations(Projection):
    """Dispensaries' dispensations by card number (the submissions service's events)."""

    name = "query.mm_dispensations"
    sources = ("submissions",)
    metadata = metadata

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        data = event.data
        if event.type == "MarijuanaDispensationsRecorded":
            conn.execute(mm_dispensations.insert(), [_row(r) for r in data["records"]])
        elif event.type == "MarijuanaDispensationRevised":
            row = _row({**data["record"], "dispensation_id": data["dispensation_id"]})
            conn.execute(
                mm_dispensations.update()
                .where(mm_dispensations.c.dispensation_id == row["dispensation_id"])
                .values(card_number=row["card_number"], filled_on=row["filled_on"],
                        record=row["record"])
            )  # fmt: skip
        elif event.type == "MarijuanaDispensationVoided":
            voided = mm_dispensations.c.dispensation_id == uuid.UUID(data["dispensation_id"])
            conn.execute(mm_dispensations.delete().where(voided))


def _row(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "dispensation_id": uuid.UUID(record["dispensation_id"]),
        "card_number": record["card_number"],
        "filled_on": date.fromisoformat(record["dispensation"]["date_filled"]),
        "record": record,
    }


def of_card(conn: Connection, card_number: str) -> list[dict[str, Any]]:
    """The card number's dispensations, newest first, as submitted."""
    query = (
        sa.select(mm_dispensations.c.record)
        .where(mm_dispensations.c.card_number == card_number)
        .order_by(mm_dispensations.c.filled_on.desc(), mm_dispensations.c.dispensation_id)
    )
    return [row.record for row in conn.execute(query)]


def unlinked(conn: Connection, page: int = 1) -> dict[str, Any]:
    """Dispensations whose card number no card in the registry has, newest first."""
    orphan = (
        sa.select(mm_dispensations.c.record, mm_dispensations.c.filled_on)
        .join(mm_cards, mm_cards.c.card_number == mm_dispensations.c.card_number, isouter=True)
        .where(mm_cards.c.card_number.is_(None))
    )
    total = conn.execute(sa.select(sa.func.count()).select_from(orphan.subquery())).scalar_one()
    pages = max(1, -(-total // PAGE))
    page = min(max(1, page), pages)
    rows = conn.execute(
        orphan.order_by(mm_dispensations.c.filled_on.desc()).limit(PAGE).offset((page - 1) * PAGE)
    )
    shown = [shown_dispensation(row.record, None, None) for row in rows]
    return {"dispensations": shown, "total": total, "page": page, "pages": pages}


def shown_dispensation(
    record: dict[str, Any], card: Card | None, history: CardHistory | None
) -> dict[str, Any]:
    """A dispensation as the card record lists it: when, where, what, who certified, who
    was reported as the patient, the card's standing that day and whether that patient is
    the card's holder (same date of birth, a name patient search would take for theirs)."""
    dispensary, patient = record.get("dispensary", {}), record.get("patient", {})
    dsp, certifier = record["dispensation"], record.get("certifier", {})
    filled = date.fromisoformat(dsp["date_filled"])
    return {
        "dispensation_id": record["dispensation_id"],
        "card_number": record["card_number"],
        "filled_on": filled.isoformat(),
        "dispensary": dispensary.get("name") or _first(dispensary, ("npi", "ncpdp", "dea")),
        "product": dsp.get("ndc", ""),
        "quantity": dsp.get("quantity", ""),
        "unit": UNITS.get(dsp.get("dosage_units_code", ""), ""),
        "days_supply": dsp.get("days_supply"),
        "certifier": _person(certifier) or _first(certifier, ("npi", "dea", "state_license")),
        "patient": _person(patient),
        "patient_birth_date": patient.get("birth_date", ""),
        "card_standing": (history or CardHistory()).standing_on(filled),
        "holder_matches": _is_holder(patient, card) if card else None,
    }


def _is_holder(patient: dict[str, Any], card: Card) -> bool:
    d = card.details
    if patient.get("birth_date") != d.get("birth_date"):
        return False
    first, last = patient.get("first_name", ""), patient.get("last_name", "")
    holder = normal_name(d["first_name"]), normal_name(d["last_name"])
    return names_alike(first, last, *holder) is not None


def _person(values: dict[str, Any]) -> str:
    return " ".join(p for p in (values.get("first_name"), values.get("last_name")) if p)


def _first(values: dict[str, Any], keys: tuple[str, ...]) -> str:
    return next((str(values[k]) for k in keys if values.get(k)), "")
