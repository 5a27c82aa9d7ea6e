"""The patient history read model: every patient identity and dispensation the submissions
service recorded, kept current as pharmacies revise and void and as administrators merge and
split patients in the index.

One row per patient index record (``patient_identities``: a distinct way pharmacies reported
a patient, with the person it belongs to) and one per dispensation, already in the shape a
report shows (drug and strength, MME/day, prescriber and pharmacy as text), so a Patient
History Report is one indexed range read.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.envelope import RecordedEvent
from pmp.projector import Projection
from services.query.mme import mme_per_day

metadata = sa.MetaData()

patient_identities = sa.Table(
    "patient_identities",
    metadata,
    sa.Column("patient_record", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("person_id", sa.Uuid, nullable=False, index=True),
    sa.Column("first_name", sa.String(60), nullable=False),
    sa.Column("middle_name", sa.String(60), nullable=False),
    sa.Column("last_name", sa.String(60), nullable=False),
    sa.Column("birth_date", sa.Date, index=True),
    sa.Column("gender", sa.String(1), nullable=False),
    sa.Column("address", sa.String(120), nullable=False),
    sa.Column("city", sa.String(60), nullable=False),
    sa.Column("state", sa.String(2), nullable=False),
    sa.Column("zip", sa.String(10), nullable=False),
)

dispensations = sa.Table(
    "dispensations",
    metadata,
    sa.Column("dispensation_id", sa.String(36), primary_key=True),
    sa.Column("person_id", sa.Uuid, nullable=False),
    sa.Column("patient_record", sa.Integer, nullable=False, index=True),
    sa.Column("filled", sa.Date, nullable=False),
    sa.Column("written", sa.Date),
    sa.Column("drug", sa.String(120), nullable=False),
    sa.Column("strength", sa.String(40), nullable=False),
    sa.Column("ndc", sa.String(11), nullable=False),
    sa.Column("drug_class", sa.String(20)),
    sa.Column("schedule", sa.SmallInteger),
    sa.Column("quantity", sa.String(20), nullable=False),
    sa.Column("days_supply", sa.Integer),
    sa.Column("mme_per_day", sa.Float),
    sa.Column("refill", sa.Integer),
    sa.Column("prescriber", sa.String(160), nullable=False),
    sa.Column("pharmacy", sa.String(160), nullable=False),
    sa.Column("payment", sa.String(40), nullable=False),
    sa.Column("voided", sa.Boolean, nullable=False, default=False),
    sa.Column("recorded_position", sa.BigInteger, nullable=False),
    sa.Index("dispensations_person_filled", "person_id", "filled"),
)

#: ASAP DSP16 payment type codes, as the report says them.
PAYMENT_TYPES = {
    "01": "Cash",
    "02": "Medicaid",
    "03": "Medicare",
    "04": "Commercial insurance",
    "05": "Military / VA",
    "06": "Workers' compensation",
    "07": "Indian Nations",
    "99": "Other",
}


class PatientHistory(Projection):
    """Patients and dispensations from the submissions service's events.

    A batch is bounded by the read's byte budget (``PMP_READ_BYTES``: a few events of 1,000
    records, some thousands of rows a commit), not by a small count of events: a count of 5
    cost a round trip and a commit per 5 of the small events between them (PatientLinked, one
    a new person), so a 1,000,000-record file took hours to project."""

    name = "query.patient_history"
    sources = ("submissions",)
    metadata = metadata

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        data = event.data
        if event.type == "DispensationsRecorded":
            self._record(conn, data["records"], event.position)
        elif event.type == "DispensationRevised":
            ids = [data["dispensation_id"]]
            conn.execute(dispensations.delete().where(dispensations.c.dispensation_id.in_(ids)))
            self._record(conn, [data["record"]], event.position)
        elif event.type == "DispensationVoided":
            conn.execute(
                dispensations.update()
                .where(dispensations.c.dispensation_id == data["dispensation_id"])
                .values(voided=True)
            )
        elif event.type == "PatientsMerged":
            kept, merged = uuid.UUID(data["person_id"]), uuid.UUID(data["merged_person_id"])
            for table in (patient_identities, dispensations):
                conn.execute(
                    table.update().where(table.c.person_id == merged).values(person_id=kept)
                )
        elif event.type == "PatientSplit":
            new, record = uuid.UUID(data["new_person_id"]), data["patient_record"]
            for table in (patient_identities, dispensations):
                conn.execute(
                    table.update().where(table.c.patient_record == record).values(person_id=new)
                )

    def _record(self, conn: Connection, records: list[dict[str, Any]], position: int) -> None:
        rows = [dispensation_row(r, position) for r in records]
        conn.execute(dispensations.insert(), rows)
        identities = {r["patient_record"]: identity_row(r) for r in records}
        known = set(
            conn.scalars(
                sa.select(patient_identities.c.patient_record).where(
                    patient_identities.c.patient_record.in_(list(identities))
                )
            )
        )
        new = [row for number, row in identities.items() if number not in known]
        if new:
            conn.execute(patient_identities.insert(), new)


def identity_row(record: dict[str, Any]) -> dict[str, Any]:
    patient = record["patient"]
    born = patient.get("birth_date")
    return {
        "patient_record": record["patient_record"],
        "person_id": uuid.UUID(record["person_id"]),
        "first_name": patient.get("first_name", "")[:60],
        "middle_name": patient.get("middle_name", "")[:60],
        "last_name": patient.get("last_name", "")[:60],
        "birth_date": date.fromisoformat(born) if born else None,
        "gender": patient.get("gender", "")[:1],
        "address": patient.get("address_1", "")[:120],
        "city": patient.get("city", "")[:60],
        "state": patient.get("state", "")[:2],
        "zip": patient.get("zip", "")[:10],
    }


def dispensation_row(record: dict[str, Any], position: int) -> dict[str, Any]:
    """A dispensation as a report shows it."""
    given, drug = record["dispensation"], record.get("drug")
    written = given.get("date_written")
    quantity = given.get("quantity", "")
    days = given.get("days_supply")
    return {
        "dispensation_id": record["dispensation_id"],
        "person_id": uuid.UUID(record["person_id"]),
        "patient_record": record["patient_record"],
        "filled": date.fromisoformat(given["date_filled"]),
        "written": date.fromisoformat(written) if written else None,
        "drug": _drug_name(drug, given.get("ndc", "")),
        "strength": _strength(drug),
        "ndc": given.get("ndc", "")[:11],
        "drug_class": drug.get("drug_class") if drug else None,
        "schedule": drug.get("schedule") if drug else None,
        "quantity": str(quantity)[:20],
        "days_supply": days,
        "mme_per_day": mme_per_day(drug, quantity, days),
        "refill": given.get("refill_number"),
        "prescriber": _person_label(record.get("prescriber") or {}),
        "pharmacy": _pharmacy_label(record.get("pharmacy") or {}),
        "payment": PAYMENT_TYPES.get(str(given.get("payment_type", "")), "Not reported"),
        "voided": False,
        "recorded_position": position,
    }


def _drug_name(drug: dict[str, Any] | None, ndc: str) -> str:
    if not drug:
        return f"Unknown NDC {ndc}"
    return str(drug.get("name") or drug.get("generic_name") or drug.get("drug") or ndc)[:120]


def _strength(drug: dict[str, Any] | None) -> str:
    if not drug or not drug.get("strength_per_unit"):
        return ""
    return f"{drug['strength_per_unit']} {drug.get('unit') or ''}".strip()[:40]


def _person_label(prescriber: dict[str, Any]) -> str:
    name = ", ".join(p for p in (prescriber.get("last_name"), prescriber.get("first_name")) if p)
    ids = (
        prescriber.get("dea")
        and f"DEA {prescriber['dea']}"
        or (prescriber.get("npi") and f"NPI {prescriber['npi']}")
    )
    return (f"{name} ({ids})" if name and ids else name or ids or "Not reported")[:160]


def _pharmacy_label(pharmacy: dict[str, Any]) -> str:
    name = pharmacy.get("name") or ""
    ids = (
        pharmacy.get("ncpdp")
        and f"NCPDP {pharmacy['ncpdp']}"
        or (pharmacy.get("npi") and f"NPI {pharmacy['npi']}")
    )
    return (f"{name} ({ids})" if name and ids else name or ids or "Not reported")[:160]
