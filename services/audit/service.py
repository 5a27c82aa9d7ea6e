"""nameko entrypoints of the audit service.

It answers the kernel's RPCs (ping, record_probe, read_events) and keeps the audit trail's
tables (``trail.py``), created with their append-only guards at its first start. Receiving
every service's events into the trail, and the investigators' queries, are still to come.
"""

from pmp.registry import EventRegistry
from pmp.service import EventSourcedService, ServiceKernel
from services.audit import trail


class AuditService(EventSourcedService):
    name = "audit"
    kernel = ServiceKernel(EventRegistry(), tables=(trail.metadata,))
