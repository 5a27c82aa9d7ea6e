"""Reads of the patient history read model that searches and reports need."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services.query import report
from services.query.alerts import report_alerts
from services.query.history import dispensations, patient_identities
from services.query.search import Identity

_ids = patient_identities.c
_rows = dispensations.c

# Built once (a lookup runs each): building a statement costs SQLAlchemy about as much as
# the database's execution of it.
_persons = sa.bindparam("persons", expanding=True)
_CANDIDATES = sa.select(
    _ids.patient_record, _ids.person_id, _ids.first_name, _ids.last_name,
    _ids.birth_date, _ids.zip, _ids.state,
).where(_ids.birth_date.in_(sa.bindparam("birth_dates", expanding=True)))  # fmt: skip
_IDENTITIES = (
    sa.select(patient_identities).where(_ids.person_id.in_(_persons)).order_by(_ids.patient_record)
)
_COUNTS = (
    sa.select(
        _rows.person_id, sa.func.count(), sa.func.min(_rows.filled), sa.func.max(_rows.filled)
    )
    .where(_rows.person_id.in_(_persons), _rows.voided.is_(False))
    .group_by(_rows.person_id)
)
_HISTORY = sa.select(dispensations).where(
    _rows.person_id.in_(_persons), _rows.filled >= sa.bindparam("since"), _rows.voided.is_(False)
)


def candidates(conn: Connection, birth_dates: Sequence[date]) -> list[Identity]:
    """Every patient identity born on one of ``birth_dates`` (the index on birth_date)."""
    found = conn.execute(_CANDIDATES, {"birth_dates": list(birth_dates)})
    return [
        Identity(
            r.patient_record,
            str(r.person_id),
            r.first_name,
            r.last_name,
            r.birth_date,
            r.zip,
            r.state,
        )  # fmt: skip
        for r in found
    ]


def persons(conn: Connection, person_ids: Sequence[str]) -> list[dict[str, Any]]:
    """What tells the persons apart: names, dates of birth, addresses as reported, and how
    many dispensations they have over which dates. In the order given."""
    keys = [uuid.UUID(p) for p in person_ids]
    found: dict[str, dict[str, Any]] = {
        p: {"person_id": p, "names": [], "birth_dates": [], "genders": [], "addresses": []}
        for p in person_ids
    }
    for row in conn.execute(_IDENTITIES, {"persons": keys}):
        person = found[str(row.person_id)]
        _add(person["names"], full_name(row))
        _add(person["birth_dates"], row.birth_date.isoformat() if row.birth_date else "")
        _add(person["genders"], row.gender)
        _add(person["addresses"], address(row))
    for person_id, number, first, last in conn.execute(_COUNTS, {"persons": keys}):
        found[str(person_id)].update(
            dispensations=number, first_filled=first.isoformat(), last_filled=last.isoformat()
        )
    for person in found.values():
        person.setdefault("dispensations", 0)
        person.setdefault("first_filled", None)
        person.setdefault("last_filled", None)
    return list(found.values())


def history(conn: Connection, person_ids: Sequence[str], since: date) -> list[dict[str, Any]]:
    """The persons' dispensations filled since ``since``, voided ones left out."""
    found = conn.execute(_HISTORY, {"persons": [uuid.UUID(p) for p in person_ids], "since": since})
    return [dict(row._mapping) for row in found]


def full_name(row: Any) -> str:
    given = " ".join(part for part in (row.first_name, row.middle_name) if part)
    return f"{row.last_name.upper()}, {given.upper()}" if given else row.last_name.upper()


def address(row: Any) -> str:
    place = " ".join(part for part in (row.state, row.zip) if part)
    return ", ".join(part for part in (row.address, row.city, place) if part)


def _add(values: list[str], value: str) -> None:
    if value and value not in values:
        values.append(value)


def patient_report(
    conn: Connection, person_ids: Sequence[str], account_id: str, today: date, months: int
) -> dict[str, Any]:
    """The Patient History Report's content as ``account_id`` sees it ``today``: what the
    live report and the audit's rebuild of a past one both read from the read model."""
    first, _ = report.look_back(today, months)
    rows = history(conn, person_ids, first - timedelta(days=report.SUPPLY_BEFORE))
    patients = persons(conn, person_ids)
    alerts = report_alerts(conn, person_ids, account_id, first, today)
    return report.patient_history(patients, rows, today, months, alerts)
