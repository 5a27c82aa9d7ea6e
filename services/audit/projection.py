"""Every event of every service into the audit trail.

A projection over every service's store (its own included), read in each store's position
order through ``read_events``. Broker messages only wake it: a lost, repeated or reordered
message delays an event by at most one poll interval and can neither drop nor double it, and
the trail refuses to chain past a missing position (``trail.Gap``), so a source that skipped
one would halt the trail rather than leave a hole. Nothing lists event types: whatever a
service stores is kept. The trail is never cleared: it is not rebuilt like a read model.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy.engine import Connection

from pmp.envelope import RecordedEvent
from pmp.projector import Projection
from pmp.topology import SERVICE_NAMES
from services.audit import trail


class AuditTrail(Projection):
    name = "audit.trail"
    sources = SERVICE_NAMES
    metadata = trail.metadata
    max_batch: ClassVar[int] = 500

    def __init__(self) -> None:
        self._batch: list[RecordedEvent] = []

    def begin_batch(self, conn: Connection, source: str, after_position: int) -> None:
        self._batch = []

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        self._batch.append(event)

    def end_batch(self, conn: Connection, source: str, last_position: int) -> None:
        trail.append(conn, source, self._batch)

    def clear(self, conn: Connection) -> None:
        raise RuntimeError(f"{trail.REFUSAL}: it is never emptied or rebuilt")
