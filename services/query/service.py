"""nameko entrypoints of the query service: thin calls into its read models."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from nameko.rpc import rpc

from pmp.registry import EventRegistry
from pmp.service import EventSourcedService, ServiceKernel
from services.query.projections import PROJECTIONS, probe_arrivals


class QueryService(EventSourcedService):
    name = "query"
    kernel = ServiceKernel(EventRegistry(), projections=PROJECTIONS)

    @rpc
    def probe_arrivals(self, probe_id: str) -> dict[str, str]:
        """When each service's probe ``probe_id`` was recorded, for those that arrived."""
        query = sa.select(probe_arrivals.c.service, probe_arrivals.c.recorded_at).where(
            probe_arrivals.c.probe_id == uuid.UUID(probe_id)
        )
        with self.kernel.db.read() as conn:
            return {row.service: row.recorded_at.isoformat() for row in conn.execute(query)}
