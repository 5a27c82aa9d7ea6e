"""The alerts service's watch over every person's dispensations.

A projection of the submissions service's events (and of its own policy changes) that keeps
each person's dispensations as the rules need them and the alerts now standing. Whenever an
event touches a person (a batch recorded, a revision, a void, a merge or split in the patient
index) only that person is evaluated again, and what changed is appended as ``AlertRaised``
/ ``AlertCleared`` events in the same transaction as the checkpoint: a crash can neither lose
an alert nor raise it twice. A policy change evaluates every person again.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, ClassVar

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.cooperate import let_others_run
from pmp.db import insert_rows
from pmp.envelope import Metadata, NewEvent, RecordedEvent
from pmp.eventstore import EventStore
from pmp.projector import EventSource, Projection
from pmp.sources import StoreSource
from services.alerts.held import HeldMedications
from services.alerts.medications import Medication, from_record, number
from services.alerts.policy import POLICY_STREAM, AlertPolicy
from services.alerts.rules import evaluate

ALERTS_STREAM = "alerts"
NAMESPACE = uuid.UUID("6f1d4c0e-5b7a-4f43-9a51-3c2e8b9d0a17")
EVALUATE_AT_ONCE = 900  # persons per query (SQLite allows 32,766 bound values)
YIELD_EVERY = 50  # persons evaluated between two turns of the service's other green threads

metadata = sa.MetaData()

medications = sa.Table(
    "alert_medications",
    metadata,
    sa.Column("dispensation_id", sa.String(36), primary_key=True),
    sa.Column("person_id", sa.Uuid, nullable=False, index=True),
    sa.Column("patient_record", sa.Integer, nullable=False),  # a split names its person too
    sa.Column("filled", sa.Date, nullable=False),
    sa.Column("days", sa.Integer),
    sa.Column("drug_class", sa.String(20)),
    sa.Column("drug", sa.String(60), nullable=False),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("strength", sa.String(20)),
    sa.Column("quantity", sa.String(20)),
    sa.Column("factor", sa.String(20)),
    sa.Column("prescriber", sa.String(80), nullable=False),
    sa.Column("pharmacy", sa.String(80), nullable=False),
    # What a notice to a prescriber says of the patient: initials and year of birth only.
    sa.Column("initials", sa.String(4), nullable=False, default=""),
    sa.Column("birth_year", sa.Integer),
)

standing = sa.Table(
    "alerts_standing",
    metadata,
    sa.Column("alert_id", sa.Uuid, primary_key=True),
    sa.Column("person_id", sa.Uuid, nullable=False, index=True),
    sa.Column("rule", sa.String(40), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("finding", sa.JSON, nullable=False),
)

policies = sa.Table(
    "alert_policy",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("policy", sa.JSON, nullable=False),
)


class AlertWatch(Projection):
    name = "alerts.watch"
    sources = ("submissions", "alerts")
    metadata = metadata
    # Events of up to 1,000 records each. Each person a batch touches is evaluated once, at
    # its end, so a watch that has fallen behind catches up in bigger, cheaper bites.
    max_batch: ClassVar[int] = 100
    own_streams: ClassVar[tuple[str, ...]] = (POLICY_STREAM,)  # not the alerts it raises
    emits_events: ClassVar[bool] = True

    def __init__(self) -> None:
        self.held = HeldMedications()
        self._touched: dict[uuid.UUID, RecordedEvent] = {}  # person -> the latest cause
        self._everyone: RecordedEvent | None = None  # a policy change: evaluate all

    def attach(self, sources: Mapping[str, EventSource]) -> None:
        own = sources["alerts"]
        assert isinstance(own, StoreSource)
        self.store: EventStore = own.store

    def clear(self, conn: Connection) -> None:
        super().clear(conn)
        self.held.clear()

    def begin_batch(self, conn: Connection, source: str, after_position: int) -> None:
        self._touched.clear()
        self._everyone = None
        if source == "submissions":
            self.held.open(after_position)

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        data = event.data
        if event.type == "DispensationsRecorded":
            stored = [_stored(record) for record in data["records"]]
            insert_rows(conn, medications, [row for row, _ in stored])
            for row, medication in stored:
                self.held.add(row["person_id"], medication)
            self._touch({row["person_id"] for row, _ in stored}, event)
        elif event.type == "DispensationRevised":
            touched = self._persons_of(conn, [data["dispensation_id"]])
            conn.execute(
                medications.delete().where(medications.c.dispensation_id == data["dispensation_id"])
            )
            row, _ = _stored(data["record"])
            conn.execute(medications.insert(), [row])
            self._touch(touched | {row["person_id"]}, event, changed=True)
        elif event.type == "DispensationVoided":
            touched = self._persons_of(conn, [data["dispensation_id"]])
            conn.execute(
                medications.delete().where(medications.c.dispensation_id == data["dispensation_id"])
            )
            self._touch(touched, event, changed=True)
        elif event.type == "PatientsMerged":
            kept, merged = uuid.UUID(data["person_id"]), uuid.UUID(data["merged_person_id"])
            conn.execute(
                medications.update().where(medications.c.person_id == merged).values(person_id=kept)
            )
            self._touch({kept, merged}, event, changed=True)
        elif event.type == "PatientSplit":
            old, new = uuid.UUID(data["person_id"]), uuid.UUID(data["new_person_id"])
            conn.execute(
                medications.update()
                .where(
                    medications.c.person_id == old,
                    medications.c.patient_record == data["patient_record"],
                )
                .values(person_id=new)
            )
            self._touch({old, new}, event, changed=True)
        elif event.type == "AlertPolicyChanged":
            conn.execute(policies.delete())
            conn.execute(policies.insert().values(id=1, policy=data["policy"]))
            self._everyone = event

    def end_batch(self, conn: Connection, source: str, last_position: int) -> None:
        if self._everyone is not None:
            everyone = set(conn.scalars(sa.select(medications.c.person_id).distinct()))
            everyone |= set(conn.scalars(sa.select(standing.c.person_id).distinct()))
            self._touch(everyone - set(self._touched), self._everyone)
        if self._touched:
            self._evaluate(conn, self._touched)
        if source == "submissions":
            self.held.close(last_position)

    def _touch(
        self, persons: Collection[uuid.UUID], cause: RecordedEvent, changed: bool = False
    ) -> None:
        """Evaluate ``persons`` at the end of the batch; ``changed``: their dispensations
        changed other than by new ones, so what the memory holds of them is stale."""
        if changed:
            self.held.forget(persons)
        for person in persons:
            self._touched[person] = cause

    @staticmethod
    def _persons_of(conn: Connection, dispensation_ids: list[str]) -> set[uuid.UUID]:
        return set(
            conn.scalars(
                sa.select(medications.c.person_id).where(
                    medications.c.dispensation_id.in_(dispensation_ids)
                )
            )
        )

    def _evaluate(self, conn: Connection, causes: Mapping[uuid.UUID, RecordedEvent]) -> None:
        """Evaluate the persons of ``causes`` again; append and keep what changed, each
        change caused by the latest event that touched its person."""
        policy = current_policy(conn)
        ordered = sorted(causes)
        changes: list[tuple[uuid.UUID, str, dict[str, Any]]] = []
        for start in range(0, len(ordered), EVALUATE_AT_ONCE):
            chunk = ordered[start : start + EVALUATE_AT_ONCE]
            changes += self._evaluate_chunk(conn, chunk, policy)
        if changes:
            now = datetime.now(UTC)
            self.store.append_in(
                conn,
                ALERTS_STREAM,
                [
                    NewEvent(kind, data, _caused_by(causes[person], now))
                    for person, kind, data in changes
                ],
            )

    def _held(
        self, conn: Connection, persons: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[Medication]]:
        """The dispensations of ``persons``: from memory, else read back (and remembered)."""
        held = {p: self.held.get(p) for p in persons}
        missing = [p for p, meds in held.items() if meds is None]
        if missing:
            read: dict[uuid.UUID, list[Medication]] = {p: [] for p in missing}
            query = sa.select(medications).where(medications.c.person_id.in_(missing))
            for row in conn.execute(query).mappings():
                read[row["person_id"]].append(_medication(row))
            for person, meds in read.items():
                self.held.put(person, meds)
                held[person] = meds
        return held  # type: ignore[return-value]

    def _evaluate_chunk(
        self, conn: Connection, persons: list[uuid.UUID], policy: AlertPolicy
    ) -> list[tuple[uuid.UUID, str, dict[str, Any]]]:
        held = self._held(conn, persons)
        before = {
            row.alert_id: row
            for row in conn.execute(
                sa.select(
                    standing.c.alert_id,
                    standing.c.person_id,
                    standing.c.rule,
                    standing.c.fingerprint,
                ).where(standing.c.person_id.in_(persons))
            )
        }
        now: dict[uuid.UUID, tuple[uuid.UUID, dict[str, Any], str]] = {}
        for n, (person, meds) in enumerate(held.items()):
            if n % YIELD_EVERY == 0:
                let_others_run()  # a ping answers while thousands of persons are evaluated
            for finding in evaluate(meds, policy):
                alert_id = uuid.uuid5(NAMESPACE, f"{person}|{finding.rule}|{finding.start}")
                shown = finding.to_json()
                now[alert_id] = (person, shown, _fingerprint(shown))
        changes: list[tuple[uuid.UUID, str, dict[str, Any]]] = []
        gone = [a for a in before if a not in now]
        for alert_id in gone:
            row = before[alert_id]
            changes.append(
                (
                    row.person_id,
                    "AlertCleared",
                    {"alert_id": str(alert_id), "person_id": str(row.person_id), "rule": row.rule},
                )
            )
        fresh = [
            a for a, (_, _, mark) in now.items() if a not in before or before[a].fingerprint != mark
        ]
        if gone or fresh:
            conn.execute(standing.delete().where(standing.c.alert_id.in_(gone + fresh)))
        if fresh:
            insert_rows(
                conn,
                standing,
                [
                    {
                        "alert_id": a,
                        "person_id": now[a][0],
                        "rule": now[a][1]["rule"],
                        "fingerprint": now[a][2],
                        "finding": now[a][1],
                    }
                    for a in fresh
                ],
            )
            for a in fresh:
                person, shown, _ = now[a]
                changes.append(
                    (person, "AlertRaised", {"alert_id": str(a), "person_id": str(person), **shown})
                )
        return changes


def _caused_by(cause: RecordedEvent, at: datetime) -> Metadata:
    return Metadata(
        occurred_at=at,
        correlation_id=cause.metadata.correlation_id,
        causation_id=str(cause.event_id),
    )


def current_policy(conn: Connection) -> AlertPolicy:
    stored = conn.scalar(sa.select(policies.c.policy).where(policies.c.id == 1))
    return AlertPolicy.from_json(stored) if stored else AlertPolicy()


def standing_alert(conn: Connection, alert_id: uuid.UUID) -> dict[str, Any] | None:
    """The alert ``alert_id`` if it stands now, with its person."""
    row = conn.execute(sa.select(standing).where(standing.c.alert_id == alert_id)).first()
    return (
        {"alert_id": str(row.alert_id), "person_id": str(row.person_id), **row.finding}
        if row
        else None
    )


def _fingerprint(shown: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(shown, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _stored(record: dict[str, Any]) -> tuple[dict[str, Any], Medication]:
    """A submissions record as its row, and as the rules take it (as read back later)."""
    m = from_record(record)
    patient = record.get("patient") or {}
    born = str(patient.get("birth_date") or "")
    row = {
        "dispensation_id": m.dispensation_id,
        "person_id": _person(record["person_id"]),
        "patient_record": record["patient_record"],
        "filled": m.filled,
        "days": m.days,
        "drug_class": m.drug_class,
        "drug": m.drug[:60],
        "label": m.label[:200],
        "strength": _text(m.strength),
        "quantity": _text(m.quantity),
        "factor": _text(m.factor),
        "prescriber": m.prescriber[:80],
        "pharmacy": m.pharmacy[:80],
        "initials": _initials(patient.get("first_name"), patient.get("last_name")),
        "birth_year": int(born[:4]) if born[:4].isdigit() else None,
    }
    cut = len(m.drug) > 60 or len(m.label) > 200 or len(m.prescriber) > 80 or len(m.pharmacy) > 80
    return row, _medication(row) if cut else m


def _initials(first: str | None, last: str | None) -> str:
    return ((first or "")[:1] + (last or "")[:1]).upper()


@lru_cache(maxsize=65_536)
def _person(text: str) -> uuid.UUID:
    """One UUID object per person, however many dispensations name them."""
    return uuid.UUID(text)


def _medication(row: Mapping[str, Any]) -> Medication:
    """A stored row (or one about to be stored) as the rules take it."""
    return Medication(
        dispensation_id=row["dispensation_id"],
        filled=row["filled"],
        days=row["days"],
        drug_class=row["drug_class"],
        drug=row["drug"],
        label=row["label"],
        strength=number(row["strength"]),
        quantity=number(row["quantity"]),
        factor=number(row["factor"]),
        prescriber=row["prescriber"],
        pharmacy=row["pharmacy"],
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
