"""Read models of the query service, each fed by a projector from the events it names."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.db import UtcDateTime
from pmp.diagnostics import PROBE_RECORDED
from pmp.envelope import RecordedEvent
from pmp.logs import get_logger
from pmp.projector import Projection
from pmp.topology import SERVICE_NAMES

log = get_logger(__name__)

probe_metadata = sa.MetaData()
probe_arrivals = sa.Table(
    "probe_arrivals",
    probe_metadata,
    sa.Column("probe_id", sa.Uuid, primary_key=True),
    sa.Column("service", sa.String(40), primary_key=True),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
)


class ProbeArrivals(Projection):
    """Which services' pipeline probes reached the query service, and when they were made."""

    name = "query.probe_arrivals"
    sources = SERVICE_NAMES
    metadata = probe_metadata
    types = dict.fromkeys(SERVICE_NAMES, frozenset({PROBE_RECORDED}))

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        probe_id = uuid.UUID(event.data["probe_id"])
        arrived = sa.select(probe_arrivals.c.position).where(
            probe_arrivals.c.probe_id == probe_id, probe_arrivals.c.service == source
        )
        if conn.execute(arrived).first() is not None:
            # Recorded twice: the probe's RPC was delivered again to a service restarted
            # mid-call (at least once). The first arrival is the one that counts.
            return
        conn.execute(
            probe_arrivals.insert().values(
                probe_id=probe_id,
                service=source,
                recorded_at=event.metadata.occurred_at,
                position=event.position,
            )
        )
        log.info("probe arrived", source=source, probe_id=event.data["probe_id"])


def _registry() -> tuple[type[Projection], ...]:
    from services.query.mm_dispensations import MarijuanaDispensations
    from services.query.mm_registry import RegistryCards

    return RegistryCards, MarijuanaDispensations


# What ``pmp projections list|rebuild`` can reach (and the service runs).
PROJECTIONS: tuple[type[Projection], ...] = (ProbeArrivals, *_registry())
