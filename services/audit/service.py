"""nameko entrypoints of the audit service.

It answers the kernel's RPCs (ping, record_probe, read_events) and keeps the audit trail
(``trail.py``): the ``AuditTrail`` projection chains every event of every service as it is
stored. The investigators' queries and reports are still to come.
"""

from pmp.registry import EventRegistry
from pmp.service import EventSourcedService, ServiceKernel
from services.audit.projection import AuditTrail


class AuditService(EventSourcedService):
    name = "audit"
    kernel = ServiceKernel(EventRegistry(), projections=(AuditTrail,))
