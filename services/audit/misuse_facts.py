"""What the misuse watch knows, kept from other services' events, and read back as the
signals (``signals.py``) take it.

Identity says who a user is (surname, role, address lines), registration their work address
and the DEA, NPI and NCPDP numbers on their form, submissions who dispensed to whom and
where pharmacies reported each patient (following revisions, voids, merges and splits, as
every other read model of dispensations does), and the query service each search.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.db import insert_rows
from pmp.envelope import RecordedEvent
from services.audit.misuse_tables import daily, links, patients, search_persons, searches, users
from services.audit.signals import (
    Address,
    DailyBaseline,
    Patient,
    Search,
    Searcher,
    dispensation_identifiers,
    of_kind,
    searcher_identifiers,
)

# -- users ---------------------------------------------------------------------------------


def account_event(conn: Connection, event: RecordedEvent) -> None:
    """Identity's events that say who a user is."""
    data = event.data
    if event.type == "AccountCreated":
        _update_user(conn, data["account_id"], last_name=data["last_name"], role=data["role"],
                     address=_lines(data.get("address_lines")))  # fmt: skip
    elif event.type == "AccessGranted":
        changes: dict[str, Any] = {"last_name": data["last_name"], "role": data["role"]}
        if data.get("address_lines"):
            changes["address"] = _lines(data["address_lines"])
        _update_user(conn, _account_of(event.stream, "account"), **changes)
    elif event.type == "ProfileUpdated":
        _update_user(conn, _account_of(event.stream, "account"), last_name=data["last_name"])
    elif event.type == "RoleChanged":
        _update_user(conn, _account_of(event.stream, "account"), role=data["to_role"])


def registration_event(conn: Connection, event: RecordedEvent) -> None:
    """The registration form: the work address and the numbers dispensations name."""
    if event.type != "FormSaved":
        return
    form = event.data["form"]
    address = Address.of(form.get("address_line1"), form.get("city"), form.get("zip"))
    _update_user(
        conn,
        _account_of(event.stream, "registration"),
        registered_address=address.to_json() if address else None,
        identifiers=sorted(searcher_identifiers(form)),
    )


def _lines(lines: list[str] | None) -> dict[str, str] | None:
    address = Address.from_lines(lines or [])
    return address.to_json() if address else None


def _account_of(stream: str, prefix: str) -> str:
    return stream.removeprefix(f"{prefix}-")


def _update_user(conn: Connection, account_id: str, **changes: Any) -> None:
    found = conn.execute(
        users.update().where(users.c.account_id == account_id).values(**changes)
    ).rowcount
    if not found:
        conn.execute(users.insert().values(account_id=account_id, **changes))


# The statements each search runs, built once (see ``pmp.eventstore``).
_USERS = sa.select(users).where(users.c.account_id.in_(sa.bindparam("ids", expanding=True)))
_PATIENT = sa.select(patients.c.last_name, patients.c.address).where(
    patients.c.person_id == sa.bindparam("person")
)
_LINKED = (
    sa.select(links.c.dispensation_id)
    .where(
        links.c.person_id == sa.bindparam("person"),
        sa.or_(
            links.c.prescriber_dea.in_(sa.bindparam("deas", expanding=True)),
            links.c.prescriber_npi.in_(sa.bindparam("npis", expanding=True)),
            links.c.pharmacy_ncpdp.in_(sa.bindparam("ncpdps", expanding=True)),
            links.c.pharmacy_npi.in_(sa.bindparam("npis", expanding=True)),
        ),
    )
    .limit(1)
)
_NEW_SEARCH = searches.insert()
_DAY_COUNT = sa.select(daily.c.searches).where(
    daily.c.account_id == sa.bindparam("account"), daily.c.day == sa.bindparam("on")
)
_NEW_DAY = daily.insert()
_COUNT_DAY = (
    daily.update()
    .where(daily.c.account_id == sa.bindparam("account"), daily.c.day == sa.bindparam("on"))
    .values(searches=sa.bindparam("count"), role=sa.bindparam("as_role"))
)
_SEARCHES_OF_PATIENT = (
    sa.select(search_persons.c.search_id, search_persons.c.searched_at)
    .where(
        search_persons.c.account_id == sa.bindparam("account"),
        search_persons.c.person_id == sa.bindparam("person"),
        search_persons.c.searched_at > sa.bindparam("since"),
        search_persons.c.searched_at <= sa.bindparam("until"),
    )
    .order_by(search_persons.c.searched_at, search_persons.c.search_id)
)


def searcher(
    conn: Connection, requester: Mapping[str, Any], on_behalf_of: Mapping[str, Any] | None
) -> Searcher:
    """Who made a search: the search's own record of their name and role, what identity
    and registration said of them, and a delegate's supervisor's numbers."""
    account_id = str(requester.get("account_id") or "")
    wanted = [account_id] + ([str(on_behalf_of["account_id"])] if on_behalf_of else [])
    rows = {r.account_id: r for r in conn.execute(_USERS, {"ids": wanted})}
    own = rows.get(account_id)
    name = str(requester.get("name") or "")
    identifiers = set(own.identifiers) if own else set()
    if on_behalf_of and (boss := rows.get(str(on_behalf_of["account_id"]))):
        identifiers |= set(boss.identifiers)
    address = None
    if own:
        address = Address.from_json(own.registered_address) or Address.from_json(own.address)
    return Searcher(
        account_id=account_id,
        name=name,
        role=str(requester.get("role") or (own.role if own else "")),
        last_name=own.last_name if own and own.last_name else (name.split() or [""])[-1],
        address=address,
        identifiers=frozenset(identifiers),
    )


# -- patients and who dispensed to them ------------------------------------------------------


def submissions_event(conn: Connection, event: RecordedEvent) -> None:
    data = event.data
    if event.type == "DispensationsRecorded":
        _record(conn, data["records"])
    elif event.type == "DispensationRevised":
        conn.execute(links.delete().where(links.c.dispensation_id == data["dispensation_id"]))
        _record(conn, [data["record"]])
    elif event.type == "DispensationVoided":
        conn.execute(links.delete().where(links.c.dispensation_id == data["dispensation_id"]))
    elif event.type == "PatientsMerged":
        kept, merged = uuid.UUID(data["person_id"]), uuid.UUID(data["merged_person_id"])
        for table in (patients, links):
            conn.execute(table.update().where(table.c.person_id == merged).values(person_id=kept))
        _merge_searched(conn, kept, merged)
    elif event.type == "PatientSplit":
        new, record = uuid.UUID(data["new_person_id"]), data["patient_record"]
        for table in (patients, links):
            conn.execute(
                table.update().where(table.c.patient_record == record).values(person_id=new)
            )


def _merge_searched(conn: Connection, kept: uuid.UUID, merged: uuid.UUID) -> None:
    """Searches that found the merged person found the kept one (once per search)."""
    both = sa.select(search_persons.c.search_id).where(search_persons.c.person_id == kept)
    conn.execute(
        search_persons.delete().where(
            search_persons.c.person_id == merged, search_persons.c.search_id.in_(both)
        )
    )
    conn.execute(
        search_persons.update().where(search_persons.c.person_id == merged).values(person_id=kept)
    )


def _record(conn: Connection, records: list[dict[str, Any]]) -> None:
    insert_rows(
        conn,
        links,
        [
            {
                "dispensation_id": r["dispensation_id"],
                "person_id": uuid.UUID(r["person_id"]),
                "patient_record": r["patient_record"],
                **dispensation_identifiers(r),
            }
            for r in records
        ],
    )
    reported = {r["patient_record"]: r for r in records}
    known = set(
        conn.scalars(
            sa.select(patients.c.patient_record).where(
                patients.c.patient_record.in_(list(reported))
            )
        )
    )
    new = []
    for number, r in reported.items():
        if number in known:
            continue
        patient = r.get("patient") or {}
        address = Address.of(patient.get("address_1"), patient.get("city"), patient.get("zip"))
        new.append({
            "patient_record": number,
            "person_id": uuid.UUID(r["person_id"]),
            "last_name": str(patient.get("last_name") or "")[:60],
            "address": address.to_json() if address else None,
        })  # fmt: skip
    if new:
        insert_rows(conn, patients, new)


def patient(conn: Connection, person_id: str) -> Patient:
    rows = conn.execute(_PATIENT, {"person": uuid.UUID(person_id)}).all()
    addresses = {Address.from_json(r.address) for r in rows if r.address}
    return Patient(
        person_id=person_id,
        last_names=frozenset(r.last_name for r in rows if r.last_name),
        addresses=tuple(sorted((a for a in addresses if a), key=lambda a: a.text())),
    )


def linked(conn: Connection, person_id: str, identifiers: Iterable[str]) -> bool:
    """Whether a dispensation to the person names one of ``identifiers`` (as prescriber:
    DEA or NPI; as pharmacy: NCPDP or NPI)."""
    numbers = list(identifiers)
    if not numbers:
        return False
    deas, npis, ncpdps = (of_kind(numbers, k) for k in ("DEA", "NPI", "NCPDP"))
    found = conn.execute(
        _LINKED, {"person": uuid.UUID(person_id), "deas": deas, "npis": npis, "ncpdps": ncpdps}
    )
    return found.first() is not None


# -- searches --------------------------------------------------------------------------------


def record_search(conn: Connection, search: Search, role: str, day: date) -> int:
    """Keep the search; the user's searches of ``day`` so far, this one included."""
    search_id = uuid.UUID(search.search_id)
    conn.execute(
        _NEW_SEARCH,
        {"search_id": search_id, "account_id": search.account_id, "searched_at": search.at,
         "day": day},
    )  # fmt: skip
    if search.person_ids:
        insert_rows(
            conn,
            search_persons,
            [
                {"search_id": search_id, "person_id": uuid.UUID(p),
                 "account_id": search.account_id, "searched_at": search.at}
                for p in dict.fromkeys(search.person_ids)
            ],
        )  # fmt: skip
    key = {"account": search.account_id, "on": day}
    count = conn.scalar(_DAY_COUNT, key)
    if count is None:
        conn.execute(
            _NEW_DAY, {"account_id": search.account_id, "day": day, "role": role, "searches": 1}
        )
        return 1
    conn.execute(_COUNT_DAY, {**key, "count": count + 1, "as_role": role})
    return count + 1


def earlier_times(conn: Connection, account_id: str, since: datetime, before: datetime) -> list:
    return list(
        conn.scalars(
            sa.select(searches.c.searched_at).where(
                searches.c.account_id == account_id,
                searches.c.searched_at >= since,
                searches.c.searched_at < before,
            )
        )
    )


def searches_of_day(conn: Connection, account_id: str, day: date) -> list[Search]:
    rows = conn.execute(
        sa.select(searches.c.search_id, searches.c.searched_at)
        .where(searches.c.account_id == account_id, searches.c.day == day)
        .order_by(searches.c.searched_at, searches.c.search_id)
    )
    return [Search(str(r.search_id), account_id, r.searched_at) for r in rows]


def days_searched(conn: Connection, account_id: str, day: date, days: int) -> list[tuple[str, int]]:
    """The user's role and searches on each day they searched in the ``days`` before ``day``."""
    return [
        (r.role, r.searches)
        for r in conn.execute(
            sa.select(daily.c.role, daily.c.searches).where(
                daily.c.account_id == account_id,
                daily.c.day >= day - timedelta(days=days),
                daily.c.day < day,
            )
        )
    ]


def role_days(conn: Connection, role: str, day: date, days: int) -> DailyBaseline:
    """Every user's days of ``role`` in the ``days`` before ``day``, summed by the database."""
    found = conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(daily.c.searches), 0)).where(
            daily.c.role == role, daily.c.day >= day - timedelta(days=days), daily.c.day < day
        )
    ).one()
    return DailyBaseline(int(found[0]), int(found[1]))


def searches_of_patient(
    conn: Connection, account_id: str, person_id: str, since: datetime, until: datetime
) -> list[Search]:
    """The user's searches that found the person, from ``since`` up to ``until``."""
    params = {"account": account_id, "person": uuid.UUID(person_id), "since": since,
              "until": until}  # fmt: skip
    rows = conn.execute(_SEARCHES_OF_PATIENT, params)
    return [Search(str(r.search_id), account_id, r.searched_at) for r in rows]


def forget_searches_before(conn: Connection, moment: datetime, day: date) -> None:
    """Searches older than every period a signal looks back over."""
    conn.execute(searches.delete().where(searches.c.searched_at < moment))
    conn.execute(search_persons.delete().where(search_persons.c.searched_at < moment))
    conn.execute(daily.delete().where(daily.c.day < day))
