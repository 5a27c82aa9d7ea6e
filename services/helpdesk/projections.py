"""The help desk's read model: one row per ticket, for the staff queue, each user's own
tickets and the monthly report.

Each row is the ticket as folded from its stream up to the event being projected, so the
rules live only in ``ticket.py``. Decisions never read this table; they fold the stream.
Deadlines are not stored: the queue computes them with the policy in force when it is read.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.db import UtcDateTime
from pmp.envelope import RecordedEvent
from pmp.eventstore import EventStore
from pmp.projector import Projection
from services.helpdesk.business_hours import CATEGORIES, SupportCalendar
from services.helpdesk.policy import CATEGORY_TITLES, HelpdeskPolicy
from services.helpdesk.report import Opened
from services.helpdesk.repository import ticket_at
from services.helpdesk.ticket import ACTIVE, STATUS_TITLES, STATUSES, Ticket

metadata = sa.MetaData()
tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("ticket_id", sa.Uuid, primary_key=True),
    sa.Column("reference", sa.String(10), nullable=False, index=True),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("category", sa.String(20)),
    sa.Column("account_id", sa.Uuid, index=True),
    sa.Column("contact_name", sa.String(200), nullable=False),
    sa.Column("contact_email", sa.String(254), nullable=False),
    sa.Column("access_problem", sa.String(30)),
    sa.Column("assignee_id", sa.Uuid, index=True),
    sa.Column("assignee_name", sa.String(200), nullable=False),
    sa.Column("escalated_to", sa.String(20)),
    sa.Column("opened_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("first_response_at", UtcDateTime()),
    sa.Column("resolved_at", UtcDateTime()),
    sa.Column("closed_at", UtcDateTime()),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

QUEUE_LIMIT = 500  # the queue shows the most urgent; filters narrow it


class TicketList(Projection):
    name = "helpdesk.tickets"
    sources = ("helpdesk",)
    metadata = metadata

    store: EventStore | None = None

    def attach(self, sources) -> None:
        self.store = sources["helpdesk"].store  # its own store: it folds streams

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        if not event.stream.startswith("ticket-") or self.store is None:
            return
        ticket = ticket_at(self.store, event)
        if not ticket.exists:
            return
        row = _row(ticket, event.metadata.occurred_at)
        key = uuid.UUID(ticket.ticket_id)
        updated = conn.execute(
            tickets.update().where(tickets.c.ticket_id == key).values(**row)
        ).rowcount
        if not updated:
            conn.execute(tickets.insert().values(ticket_id=key, **row))


def _row(t: Ticket, at: datetime) -> dict[str, Any]:
    return {
        "reference": t.reference,
        "subject": t.subject[:200],
        "status": t.status,
        "category": t.category,
        "account_id": uuid.UUID(t.account_id) if t.account_id else None,
        "contact_name": t.contact_name,
        "contact_email": t.contact_email,
        "access_problem": t.access_problem,
        "assignee_id": uuid.UUID(t.assignee_id) if t.assignee_id else None,
        "assignee_name": t.assignee_name,
        "escalated_to": t.escalated_to,
        "opened_at": t.opened_at,
        "first_response_at": t.first_response_at,
        "resolved_at": t.resolved_at,
        "closed_at": t.closed_at,
        "updated_at": at,
    }


def summary(
    row: Any, now: datetime, calendar: SupportCalendar, policy: HelpdeskPolicy
) -> dict[str, Any]:
    """One line of a list: what, whose, where it stands, and its target."""
    due = None
    if row.category:
        due = calendar.deadline(row.opened_at, policy.target(row.category), row.category)
    past = due is not None and (row.first_response_at or now) > due
    return {
        "ticket_id": str(row.ticket_id),
        "reference": row.reference,
        "subject": row.subject,
        "status": row.status,
        "status_title": STATUS_TITLES[row.status],
        "category": row.category,
        "category_title": CATEGORY_TITLES.get(row.category or "", "Not yet categorised"),
        "contact_name": row.contact_name,
        "account_id": str(row.account_id) if row.account_id else None,
        "access_problem": row.access_problem,
        "assignee_id": str(row.assignee_id) if row.assignee_id else None,
        "assignee_name": row.assignee_name,
        "escalated_to": row.escalated_to,
        "opened_at": row.opened_at.isoformat(),
        "age_hours": round((now - row.opened_at).total_seconds() / 3600, 1),
        "first_response_at": row.first_response_at.isoformat() if row.first_response_at else None,
        "due_at": due.isoformat() if due else None,
        "past_target": past,
        "_due": due,
    }


class TicketQueries:
    """Reads of the read model: the queue, a user's tickets, a month's tickets."""

    def __init__(self, conn_factory):
        self._read = conn_factory

    def queue(
        self,
        now: datetime,
        calendar: SupportCalendar,
        policy: HelpdeskPolicy,
        status: str = "active",
        category: str = "",
        assignee: str = "",
        min_age_days: int = 0,
    ) -> list[dict[str, Any]]:
        """Tickets past their target first, then those not yet categorised, then by
        deadline, oldest first."""
        where = []
        if status == "active":
            where.append(tickets.c.status.in_(sorted(ACTIVE)))
        elif status in STATUSES:
            where.append(tickets.c.status == status)
        if category == "none":
            where.append(tickets.c.category.is_(None))
        elif category in CATEGORIES:
            where.append(tickets.c.category == category)
        if assignee == "none":
            where.append(tickets.c.assignee_id.is_(None))
        elif assignee:
            where.append(tickets.c.assignee_id == uuid.UUID(assignee))
        if min_age_days > 0:
            where.append(tickets.c.opened_at <= now - timedelta(days=min_age_days))
        with self._read() as conn:
            rows = conn.execute(
                sa.select(tickets).where(*where).order_by(tickets.c.opened_at).limit(QUEUE_LIMIT)
            ).all()
        items = [summary(row, now, calendar, policy) for row in rows]
        far = datetime.max.replace(tzinfo=now.tzinfo)
        items.sort(
            key=lambda i: (
                not i["past_target"],
                i["category"] is not None,
                i["_due"] or far,
                i["opened_at"],
            )
        )
        return [_public(i) for i in items]

    def mine(
        self, account_id: str, now: datetime, calendar: SupportCalendar, policy: HelpdeskPolicy
    ) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(tickets)
                .where(tickets.c.account_id == uuid.UUID(account_id))
                .order_by(tickets.c.opened_at.desc())
            ).all()
        return [_public(summary(row, now, calendar, policy)) for row in rows]

    def opened_between(self, start: datetime, end: datetime) -> list[Opened]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(
                    tickets.c.category,
                    tickets.c.opened_at,
                    tickets.c.first_response_at,
                    tickets.c.resolved_at,
                ).where(tickets.c.opened_at >= start, tickets.c.opened_at < end)
            ).all()
        return [Opened(r.category, r.opened_at, r.first_response_at, r.resolved_at) for r in rows]


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}


PROJECTIONS = (TicketList,)
