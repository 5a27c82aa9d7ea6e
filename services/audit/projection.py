"""Every event of every service into the audit trail.

A projection over every service's store (its own included), read in each store's position
order through ``read_events``. Broker messages only wake it: a lost, repeated or reordered
message delays an event by at most one poll interval and can neither drop nor double it, and
the trail refuses to chain past a missing position (``trail.Gap``), so a source that skipped
one would halt the trail rather than leave a hole. Nothing lists event types: whatever a
service stores is kept. The trail is never cleared: it is not rebuilt like a read model.

An event the trail cannot chain is set aside like any projection's (``pmp.setaside``), and
a stand-in is chained at its place: its envelope (id, stream, type, time, actor) with the
data replaced by ``{"set_aside": true}``. The chain keeps no hole and says what it lacks;
being append-only, it cannot take the event itself later (not ``retryable``).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from sqlalchemy.engine import Connection

from pmp.envelope import RecordedEvent
from pmp.projector import NotRebuildable, Projection
from pmp.topology import SERVICE_NAMES
from services.audit import trail


class AuditTrail(Projection):
    name = "audit.trail"
    sources = SERVICE_NAMES
    metadata = trail.metadata
    max_batch: ClassVar[int] = 500
    retryable: ClassVar[bool] = False

    def __init__(self) -> None:
        self._batch: list[RecordedEvent] = []

    def begin_batch(self, conn: Connection, source: str, after_position: int) -> None:
        self._batch = []

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        self._batch.append(event)

    def end_batch(self, conn: Connection, source: str, last_position: int) -> None:
        trail.append(conn, source, self._batch)

    def set_aside(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        actor = event.metadata.actor_id
        stand_in = dataclasses.replace(
            event,
            stream=event.stream[:200],
            type=event.type[:100],
            data={"set_aside": True},
            metadata=dataclasses.replace(event.metadata, actor_id=actor[:64] if actor else None),
        )
        trail.append(conn, source, [stand_in])

    def clear(self, conn: Connection) -> None:
        raise NotRebuildable(f"{trail.REFUSAL}: it is never emptied or rebuilt")
