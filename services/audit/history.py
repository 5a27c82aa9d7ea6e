"""What investigators ask of the audit trail: entries by who acted, which patient they
concern, which service, what kind and when, newest or oldest first, a page at a time. Oldest
first, page after page, is a replay of the history in the order it happened (the time each
service recorded; the chain's order between entries of the same moment).

Each entry comes back as its service stored it, so an investigator sees exactly what was
recorded, save the values no investigation needs and a thief would want: password, answer,
code and link hashes and sealed secrets read "(withheld)". The trail keeps them (the chain
covers them); only holders of ``audit.read`` get here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.moments import parse_moment
from pmp.topology import SERVICE_NAMES
from services.audit import trail

ORDERS = ("newest", "oldest")
USER_STREAMS = ("account", "registration")  # an account's own streams: "<prefix>-<account id>"
MAX_PAGE_SIZE = 500
WITHHELD = "(withheld)"
SECRET_ENDINGS = ("_hash", "_hashes", "secret")  # e.g. password_hash, sealed_secret


class HistoryRefused(ValueError):
    """A filter the history cannot apply; the message names it."""


def history(
    conn: Connection,
    *,
    user: str | None = None,
    patient: str | None = None,
    actor: str | None = None,
    source: str | None = None,
    event_type: str | None = None,
    since: str | None = None,
    until: str | None = None,
    order: str = "newest",
    page: int = 1,
    page_size: int = 50,
) -> dict[str, Any]:
    """One page of the entries that match, with how many match in all. ``user``: what one
    account did and what was done to it (its account and registration streams): the user
    activity report."""
    if order not in ORDERS:
        raise HistoryRefused(f"order: choose {' or '.join(ORDERS)}.")
    if source is not None and source not in SERVICE_NAMES:
        raise HistoryRefused(f"source: choose one of {', '.join(SERVICE_NAMES)}.")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise HistoryRefused(f"page_size: from 1 to {MAX_PAGE_SIZE}.")
    if page < 1:
        raise HistoryRefused("page: from 1.")
    e = trail.entries
    where = []
    if user:
        about = [f"{prefix}-{user}" for prefix in USER_STREAMS]
        where.append(sa.or_(e.c.actor_id == user, e.c.stream.in_(about)))
    if patient:
        concerning = sa.select(trail.patients.c.n).where(
            trail.patients.c.person_id == person("patient", patient)
        )
        where.append(e.c.n.in_(concerning))
    if actor:
        where.append(e.c.actor_id == actor)
    if source:
        where.append(e.c.source == source)
    if event_type:
        where.append(e.c.event_type == event_type)
    if since:
        where.append(e.c.occurred_at >= moment("since", since))
    if until:
        where.append(e.c.occurred_at < moment("until", until))
    total = conn.scalar(sa.select(sa.func.count()).select_from(e).where(*where))
    # In the order things happened: the chain interleaves services as it reads them.
    ordering = (
        (e.c.occurred_at, e.c.n) if order == "oldest" else (e.c.occurred_at.desc(), e.c.n.desc())
    )
    rows = conn.execute(
        sa.select(e.c.n, e.c.body, e.c.hash)
        .where(*where)
        .order_by(*ordering)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return {
        "total": total,
        "page": page,
        "page_size": page_size,
        "order": order,
        "entries": [{"n": r.n, "hash": r.hash, **_withheld(orjson.loads(r.body))} for r in rows],
    }


def _withheld(body: dict[str, Any]) -> dict[str, Any]:
    data = body.get("data")
    if isinstance(data, dict):
        body["data"] = {
            key: WITHHELD if key.endswith(SECRET_ENDINGS) else value for key, value in data.items()
        }
    return body


def person(name: str, text: str) -> uuid.UUID:
    """A patient's person id, or a refusal naming the field."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise HistoryRefused(f"{name}: a patient's person id (a UUID).") from None


def moment(name: str, text: str) -> datetime:
    """A moment with its offset, within the calendar's reach, or a refusal naming the field."""
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise HistoryRefused(f"{name}: {exc}") from None
