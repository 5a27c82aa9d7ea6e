"""nameko entrypoints of the registration service.

For now it answers the kernel's RPCs (ping, record_probe, read_events); its domain arrives
with its own issue.
"""

from pmp.registry import EventRegistry
from pmp.service import EventSourcedService, ServiceKernel


class RegistrationService(EventSourcedService):
    name = "registration"
    kernel = ServiceKernel(EventRegistry())
