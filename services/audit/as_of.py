""" "As of" replay: a read model rebuilt from the audit trail up to a chosen moment, to show
what a user saw that day.

The rebuild runs the owning service's own code over the trail's copies of its events, each
source in its own position order, leaving out what happened after the moment: a user's
registration is folded by the registration domain; a patient's report is projected by the
query service's read-model projections into a scratch database in memory and read as the
live report reads it. Nothing is written to any service's tables.

For a report, only the events that can concern the patient are replayed: the patient index
decisions (merges and splits, few) say which persons' records may have become this
patient's by then, and only dispensations and alerts naming one of them are read. The
superset is safe: the projections then file each record under the person it belonged to.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.pool import StaticPool

from pmp.envelope import RecordedEvent
from pmp.projector import Projection
from pmp.registry import EventRegistry
from services.alerts.schemas import alerts_events
from services.audit.trail import entries
from services.query import lookups
from services.query.alerts import PatientAlerts
from services.query.history import PatientHistory
from services.registration.domain import Registration
from services.registration.schemas import registration_events
from services.registration.views import application_view
from services.submissions.schemas import submissions_events

INDEX_DECISIONS = ("PatientsMerged", "PatientSplit")
# Facts read only where they name one of the persons; the rest of the replayed types are
# read whole: index decisions, corrections (a revision may move a dispensation away from
# the patient), voids (they name only the dispensation) and the thresholds in force.
NAMING = {
    "submissions": ("DispensationsRecorded",),
    "alerts": ("AlertRaised", "AlertCleared", "AlertAcknowledged"),
}
WHOLE = {
    "submissions": (*INDEX_DECISIONS, "DispensationRevised", "DispensationVoided"),
    "alerts": ("AlertPolicyChanged",),
}
CHUNK = 500


def trail_events(
    conn: Connection, source: str, until: datetime, *where: sa.ColumnElement[bool]
) -> Iterator[RecordedEvent]:
    """``source``'s events that had happened by ``until``, in its own order (position)."""
    after = 0
    e = entries.c
    while True:
        rows = conn.execute(
            sa.select(e.source_position, e.body)
            .where(e.source == source, e.source_position > after, e.occurred_at <= until, *where)
            .order_by(e.source_position)
            .limit(CHUNK)
        ).all()
        for row in rows:
            yield RecordedEvent.from_json(orjson.loads(row.body))
        if len(rows) < CHUNK:
            return
        after = rows[-1].source_position


def current(events: Iterable[RecordedEvent], registry: EventRegistry) -> Iterator[RecordedEvent]:
    """The events as their service reads them today (older schema versions upcast)."""
    for event in events:
        if registry.is_current(event.type, event.schema_version):
            yield event
            continue
        data, version = registry.upcast(event.type, event.schema_version, dict(event.data))
        yield RecordedEvent(**{**event.__dict__, "data": data, "schema_version": version})


def registration_as_of(conn: Connection, account_id: str, at: datetime) -> dict[str, Any] | None:
    """The account's registration as it stood at ``at`` (None: no application by then)."""
    stream = entries.c.stream == f"registration-{account_id}"
    events = current(trail_events(conn, "registration", at, stream), registration_events())
    registration = Registration.fold(account_id, list(events))
    return application_view(registration) if registration.exists else None


def report_as_of(
    conn: Connection, person_ids: Sequence[str], viewer: str, at: datetime, today: date,
    months: int,
) -> dict[str, Any]:  # fmt: skip
    """The Patient History Report's content for ``person_ids`` as ``viewer`` (an account id:
    their own snoozes) would have seen it at ``at``, which was ``today`` in the program's
    zone."""
    related = _related_persons(conn, person_ids, at)
    scratch = sa.create_engine("sqlite://", poolclass=StaticPool)
    projections: dict[str, tuple[Projection, EventRegistry]] = {
        "submissions": (PatientHistory(), submissions_events()),
        "alerts": (PatientAlerts(), alerts_events()),
    }
    with scratch.begin() as model:
        for projection, _ in projections.values():
            projection.metadata.create_all(model)
        for source, (projection, registry) in projections.items():
            named = sa.or_(*(entries.c.body.contains(p) for p in related))
            kinds = entries.c.event_type
            facts = (kinds.in_(NAMING[source]) & named) | kinds.in_(WHOLE[source])
            for event in current(trail_events(conn, source, at, facts), registry):
                projection.apply(model, source, event)
        return lookups.patient_report(model, person_ids, viewer, today, months)


def _related_persons(conn: Connection, person_ids: Sequence[str], at: datetime) -> set[str]:
    """The persons whose records may have become ``person_ids``' by ``at``: joined to them
    through merges and splits in the patient index, however many steps apart."""
    links: dict[str, set[str]] = {}
    decisions = entries.c.event_type.in_(INDEX_DECISIONS)
    for event in trail_events(conn, "submissions", at, decisions):
        a = str(event.data["person_id"])
        b = str(event.data.get("merged_person_id") or event.data.get("new_person_id"))
        links.setdefault(a, set()).add(b)
        links.setdefault(b, set()).add(a)
    found = {str(uuid.UUID(str(p))) for p in person_ids}
    waiting = list(found)
    while waiting:
        for other in links.get(waiting.pop(), ()):
            if other not in found:
                found.add(other)
                waiting.append(other)
    return found
