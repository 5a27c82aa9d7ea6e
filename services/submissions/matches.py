"""The administrators' review of uncertain links: the queue, its decisions and their effect on
the patient index.

The intake records ``PatientLinked`` for every link it made with less than certainty: a record
linked to a person by similarity ("probabilistic"), or a record made a new person although
others scored in the possible-match band ("new"). An administrator decides whether the
record is the same person as the candidate:

=====================  ==========================  ========================
link                   same person                 different people
=====================  ==========================  ========================
probabilistic          ``PatientLinkConfirmed``    ``PatientSplit``
new, possible matches  ``PatientsMerged``          ``PatientsKeptApart``
=====================  ==========================  ========================

Each decision is the only event of the stream ``patient-record-<n>``, so a record is decided
once even when two administrators click at the same time. The projection below keeps the
queue and applies merges and splits to ``patient_records`` and ``patient_index_changes``,
where the intake's desk picks them up before its next file; consumers of dispensations apply
the same two events (a merge relabels a person, a split moves one record's dispensations).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.db import UtcDateTime
from pmp.envelope import RecordedEvent
from pmp.projector import Projection
from services.submissions import memory

metadata = sa.MetaData()
patient_matches = sa.Table(
    "patient_matches",
    metadata,
    sa.Column("patient_record", sa.Integer, primary_key=True),
    sa.Column("person_id", sa.Uuid, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("possible", sa.JSON, nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("submission_id", sa.Uuid, nullable=False),
    sa.Column("linked_at", UtcDateTime(), nullable=False),
    sa.Column("decision", sa.String(30), index=True),  # None: waiting for review
    sa.Column("decided_by", sa.String(64)),
    sa.Column("decided_at", UtcDateTime()),
    sa.Column("note", sa.String(500)),
)

DECISIONS = {  # (kind, same person?) -> event type
    ("probabilistic", True): "PatientLinkConfirmed",
    ("probabilistic", False): "PatientSplit",
    ("new", True): "PatientsMerged",
    ("new", False): "PatientsKeptApart",
}
DECISION_TITLES = {
    "PatientLinkConfirmed": "Confirmed: same person",
    "PatientSplit": "Split: a different person",
    "PatientsMerged": "Merged: same person",
    "PatientsKeptApart": "Kept apart: different people",
}
PAGE_SIZE = 50


class DecisionRefused(ValueError):
    """The decision does not fit the link (for example a candidate that was not listed)."""


def decision_stream(patient_record: int) -> str:
    return f"patient-record-{patient_record}"


def decide(
    match: dict[str, Any],
    same: bool,
    candidate: str | None,
    note: str,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> tuple[str, dict[str, Any]]:
    """The event for an administrator's decision on ``match`` (a queue row, as ``find``
    returns it). ``candidate`` picks which possible match a merge joins (default: the best)."""
    kind = DECISIONS[(match["kind"], same)]
    data: dict[str, Any] = {"patient_record": match["patient_record"], "note": note.strip()}
    person = match["person_id"]
    if kind == "PatientsMerged":
        listed = [p["person_id"] for p in match["possible"]]
        chosen = candidate or (listed[0] if listed else None)
        if chosen not in listed:
            raise DecisionRefused("Choose one of the possible matches listed for this record.")
        data.update(person_id=chosen, merged_person_id=person)
    elif kind == "PatientSplit":
        data.update(person_id=person, new_person_id=str(new_id()))
    else:
        data.update(person_id=person)
    return kind, data


class PatientMatches(Projection):
    """The review queue, and the index changes that merges and splits make."""

    name = "submissions.patient_matches"
    sources = ("submissions",)
    metadata = metadata

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        data = event.data
        if event.type == "PatientLinked":
            self._linked(conn, event)
            return
        if event.type not in DECISION_TITLES:
            return
        record = data["patient_record"]
        conn.execute(
            patient_matches.update()
            .where(patient_matches.c.patient_record == record)
            .values(
                decision=event.type,
                decided_by=event.metadata.actor_id,
                decided_at=event.metadata.occurred_at,
                note=data.get("note", ""),
            )
        )
        records = memory.patient_records
        if event.type == "PatientsMerged":
            kept, merged = uuid.UUID(data["person_id"]), uuid.UUID(data["merged_person_id"])
            conn.execute(
                records.update().where(records.c.person_id == merged).values(person_id=kept)
            )
            conn.execute(
                memory.index_changes.insert().values(
                    kind="merge", person_id=kept, merged_person_id=merged
                )
            )
        elif event.type == "PatientSplit":
            new = uuid.UUID(data["new_person_id"])
            conn.execute(records.update().where(records.c.n == record).values(person_id=new))
            conn.execute(
                memory.index_changes.insert().values(kind="move", person_id=new, record=record)
            )

    def _linked(self, conn: Connection, event: RecordedEvent) -> None:
        data = event.data
        row = {
            "person_id": uuid.UUID(data["person_id"]),
            "kind": data["kind"],
            "score": data["score"],
            "possible": data["possible"],
            "reasons": data["reasons"],
            "submission_id": uuid.UUID(data["submission_id"]),
            "linked_at": event.metadata.occurred_at,
        }
        key = patient_matches.c.patient_record == data["patient_record"]
        if not conn.execute(patient_matches.update().where(key).values(**row)).rowcount:
            conn.execute(
                patient_matches.insert().values(patient_record=data["patient_record"], **row)
            )

    def clear(self, conn: Connection) -> None:
        conn.execute(patient_matches.delete())
        conn.execute(memory.index_changes.delete())


def waiting(conn: Connection, decided: bool, page: int) -> dict[str, Any]:
    """One page of the queue: links waiting for review (oldest first), or decided ones
    (newest first)."""
    where = (
        patient_matches.c.decision.is_not(None) if decided else patient_matches.c.decision.is_(None)
    )
    order = patient_matches.c.decided_at.desc() if decided else patient_matches.c.patient_record
    total = conn.scalar(sa.select(sa.func.count()).select_from(patient_matches).where(where))
    records = memory.patient_records
    rows = conn.execute(
        sa.select(patient_matches, records.c.first_name, records.c.last_name, records.c.dob)
        .join(records, records.c.n == patient_matches.c.patient_record)
        .where(where)
        .order_by(order)
        .limit(PAGE_SIZE)
        .offset((max(page, 1) - 1) * PAGE_SIZE)
    ).all()
    items = [
        {**_match(r), "name": f"{r.last_name}, {r.first_name}", "dob": _iso(r.dob)} for r in rows
    ]
    return {"total": total, "page": max(page, 1), "page_size": PAGE_SIZE, "items": items}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def find(conn: Connection, patient_record: int) -> dict[str, Any] | None:
    """One reviewed link with the patient records on both sides, so an administrator can
    compare names, dates of birth and addresses."""
    row = conn.execute(
        sa.select(patient_matches).where(patient_matches.c.patient_record == patient_record)
    ).first()
    if row is None:
        return None
    match = _match(row)
    match["record"] = _records(conn, memory.patient_records.c.n == patient_record)[0]
    others = [match["person_id"]] if row.kind == "probabilistic" else []
    others += [p["person_id"] for p in match["possible"]]
    records = memory.patient_records
    match["candidates"] = [
        {
            "person_id": person,
            "score": _score_of(match, person),
            "records": _records(
                conn,
                (records.c.person_id == uuid.UUID(person)) & (records.c.n != patient_record),
            ),
        }
        for person in others
    ]
    return match


def _score_of(match: dict[str, Any], person: str) -> float:
    if person == match["person_id"]:
        return match["score"]
    return next(p["score"] for p in match["possible"] if p["person_id"] == person)


def _records(conn: Connection, where: Any, limit: int = 20) -> list[dict[str, Any]]:
    records = memory.patient_records
    rows = conn.execute(sa.select(records).where(where).order_by(records.c.n).limit(limit)).all()
    return [
        {
            "patient_record": r.n,
            "person_id": str(r.person_id),
            "first_name": r.first_name,
            "middle_name": r.middle_name,
            "last_name": r.last_name,
            "dob": _iso(r.dob),
            "gender": r.gender,
            "address": r.address,
            "city": r.city,
            "state": r.state,
            "zip": r.zip,
        }
        for r in rows
    ]


def _match(row: Any) -> dict[str, Any]:
    return {
        "patient_record": row.patient_record,
        "person_id": str(row.person_id),
        "kind": row.kind,
        "score": row.score,
        "possible": row.possible,
        "reasons": row.reasons,
        "submission_id": str(row.submission_id),
        "linked_at": row.linked_at.isoformat(),
        "decision": row.decision,
        "decision_title": DECISION_TITLES.get(row.decision or "", "Waiting for review"),
        "decided_by": row.decided_by,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "note": row.note or "",
    }
