"""nameko entrypoints of the helpdesk service.

For now it answers the kernel's RPCs (ping, record_probe, read_events); its domain arrives
with its own issue.
"""

from pmp.registry import EventRegistry
from pmp.service import EventSourcedService, ServiceKernel


class HelpdeskService(EventSourcedService):
    name = "helpdesk"
    kernel = ServiceKernel(EventRegistry())
