"""The registration service's read model: one row per application, for the review queue,
supervisors' lists, profile change requests and the sweep's candidates.

Each row is the registration as folded from its stream up to the event being projected, so
the rules for status and dates live only in ``domain.py``. Decisions never read this table;
they fold the stream, which is always current.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.db import UtcDateTime
from pmp.envelope import RecordedEvent
from pmp.eventstore import EventStore
from pmp.projector import Projection
from services.identity.roles import ROLE_TITLES, Role
from services.registration.domain import (
    AWAITING_SUPERVISOR,
    EDITABLE,
    STATUS_TITLES,
    Registration,
)
from services.registration.repository import registration_at

metadata = sa.MetaData()
applications = sa.Table(
    "applications",
    metadata,
    sa.Column("account_id", sa.Uuid, primary_key=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("first_name", sa.String(100), nullable=False, default=""),
    sa.Column("last_name", sa.String(100), nullable=False, default=""),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("status", sa.String(30), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("started_at", UtcDateTime()),
    sa.Column("submitted_at", UtcDateTime(), index=True),
    sa.Column("last_activity_at", UtcDateTime()),
    sa.Column("approved_at", UtcDateTime()),
    sa.Column("approved_role", sa.String(40)),
    sa.Column("renewal_due", sa.Date, index=True),
    sa.Column("supervisor_account_id", sa.Uuid, index=True),
    sa.Column("profile_change_requested_at", UtcDateTime()),
)

# Registered prescribers by DEA number: whom the alerts service may send a notice about a
# patient they prescribed for (the DEA number is what pharmacies report of a prescriber).
prescriber_deas = sa.Table(
    "prescriber_deas",
    metadata,
    sa.Column("dea_number", sa.String(9), primary_key=True),
    sa.Column("account_id", sa.Uuid, nullable=False, index=True),
)

PAGE_SIZE = 50


class ApplicationList(Projection):
    name = "registration.applications"
    sources = ("registration",)
    metadata = metadata

    store: EventStore | None = None

    def attach(self, sources) -> None:
        self.store = sources["registration"].store  # its own store: it folds streams

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        if not event.stream.startswith("registration-") or self.store is None:
            return
        registration = registration_at(self.store, event)
        account_id = registration.account_id
        if not registration.exists:
            return
        row = _row(registration)
        key = uuid.UUID(account_id)
        updated = conn.execute(
            applications.update().where(applications.c.account_id == key).values(**row)
        ).rowcount
        if not updated:
            conn.execute(applications.insert().values(account_id=key, **row))
        conn.execute(prescriber_deas.delete().where(prescriber_deas.c.account_id == key))
        dea = registration.form.get("dea_number") if registration.role == Role.PRESCRIBER else None
        if dea:
            conn.execute(prescriber_deas.delete().where(prescriber_deas.c.dea_number == dea))
            conn.execute(prescriber_deas.insert().values(dea_number=dea, account_id=key))


def _row(r: Registration) -> dict[str, Any]:
    return {
        "email": r.email,
        "first_name": r.form.get("first_name", ""),
        "last_name": r.form.get("last_name", ""),
        "role": r.role,
        "status": r.status,
        "kind": r.kind,
        "started_at": r.started_at,
        "submitted_at": r.submitted_at,
        "last_activity_at": r.last_activity_at,
        "approved_at": r.approved_at,
        "approved_role": r.approved_role,
        "renewal_due": r.renewal_due,
        "supervisor_account_id": uuid.UUID(r.supervisor["account_id"]) if r.supervisor else None,
        "profile_change_requested_at": datetime.fromisoformat(r.profile_change["requested_at"])
        if r.profile_change
        else None,
    }


def summary(row: Any, now: datetime) -> dict[str, Any]:
    """One line of a queue: who, what, and how long they have waited."""
    waiting_since = row.profile_change_requested_at or row.submitted_at or row.started_at
    return {
        "account_id": str(row.account_id),
        "email": row.email,
        "name": f"{row.first_name} {row.last_name}".strip() or row.email,
        "role": row.role,
        "role_title": ROLE_TITLES[Role(row.role)],
        "status": row.status,
        "status_title": STATUS_TITLES[row.status],
        "kind": row.kind,
        "submitted_at": row.submitted_at.isoformat() if row.submitted_at else None,
        "renewal_due": row.renewal_due.isoformat() if row.renewal_due else None,
        "waiting_days": (now - waiting_since).days if waiting_since else 0,
        "profile_change_requested_at": row.profile_change_requested_at.isoformat()
        if row.profile_change_requested_at
        else None,
    }


class ApplicationQueries:
    """Reads of the read model for queues and the sweep."""

    def __init__(self, conn_factory):
        self._read = conn_factory

    def queue(self, status: str, page: int, now: datetime) -> dict[str, Any]:
        page = max(1, int(page))
        where = applications.c.status == status
        with self._read() as conn:
            total = conn.scalar(sa.select(sa.func.count()).where(where)) or 0
            rows = conn.execute(
                sa.select(applications)
                .where(where)
                .order_by(
                    applications.c.submitted_at.asc().nulls_last(),
                    applications.c.started_at.asc(),
                )
                .limit(PAGE_SIZE)
                .offset((page - 1) * PAGE_SIZE)
            ).all()
        pages = max(1, -(-total // PAGE_SIZE))
        items = [summary(row, now) for row in rows]
        return {"items": items, "total": total, "page": page, "pages": pages}

    def awaiting_supervisor(self, supervisor_id: str, now: datetime) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(applications)
                .where(
                    applications.c.status == AWAITING_SUPERVISOR,
                    applications.c.supervisor_account_id == uuid.UUID(supervisor_id),
                )
                .order_by(applications.c.submitted_at.asc())
            ).all()
        return [summary(row, now) for row in rows]

    def profile_changes(self, now: datetime) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(applications)
                .where(applications.c.profile_change_requested_at.is_not(None))
                .order_by(applications.c.profile_change_requested_at.asc())
            ).all()
        return [summary(row, now) for row in rows]

    def prescribers_by_dea(self, dea_numbers: list[str]) -> list[dict[str, str]]:
        """Approved prescribers registered with these DEA numbers: whom to send notices."""
        joined = prescriber_deas.join(
            applications, applications.c.account_id == prescriber_deas.c.account_id
        )
        query = (
            sa.select(prescriber_deas.c.dea_number, applications)
            .select_from(joined)
            .where(
                prescriber_deas.c.dea_number.in_(dea_numbers),
                applications.c.approved_role == Role.PRESCRIBER,
                applications.c.approved_at.is_not(None),
            )
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [
            {"dea_number": r.dea_number, "account_id": str(r.account_id), "email": r.email,
             "name": f"{r.first_name} {r.last_name}".strip()}
            for r in rows
        ]  # fmt: skip

    def approved_in_role(self, role: str) -> list[str]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(applications.c.account_id).where(
                    applications.c.approved_role == role, applications.c.approved_at.is_not(None)
                )
            ).all()
        return [str(row.account_id) for row in rows]

    def sweep_candidates(
        self, now: datetime, today: date, reminder_days: int, furthest_reminder: int
    ) -> list[str]:
        """Accounts whose registration may have a reminder, closure or lapse due."""
        idle_since = now - timedelta(days=reminder_days)
        horizon = today + timedelta(days=furthest_reminder)
        with self._read() as conn:
            rows = conn.execute(
                sa.select(applications.c.account_id).where(
                    sa.or_(
                        sa.and_(
                            applications.c.status.in_(sorted(EDITABLE)),
                            applications.c.last_activity_at <= idle_since,
                        ),
                        sa.and_(
                            applications.c.approved_at.is_not(None),
                            applications.c.renewal_due <= horizon,
                        ),
                    )
                )
            ).all()
        return [str(row.account_id) for row in rows]


PROJECTIONS = (ApplicationList,)
