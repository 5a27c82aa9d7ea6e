"""nameko entrypoints of the submissions service.

For now it answers the kernel's RPCs (ping, record_probe, read_events); its domain arrives
with its own issue.
"""

from pmp.registry import EventRegistry
from pmp.service import EventSourcedService, ServiceKernel


class SubmissionsService(EventSourcedService):
    name = "submissions"
    kernel = ServiceKernel(EventRegistry())
