"""nameko entrypoints of the audit service.

It answers the kernel's RPCs (ping, record_probe, read_events) and keeps the audit trail
(``trail.py``): the ``AuditTrail`` projection chains every event of every service as it is
stored, and once a day the trail's head goes to a file (and an email) outside the system
(``heads.py``). Investigators read it through ``history`` (``history.py``); their reports
are still to come.
"""

from typing import Any

from nameko.rpc import rpc
from nameko.timer import timer

from pmp.mail import Mailer
from pmp.registry import EventRegistry
from pmp.service import EventSourcedService, ServiceKernel
from services.audit import history
from services.audit.heads import write_daily_head
from services.audit.projection import AuditTrail
from services.identity.roles import Permission, require_granted

HEAD_CHECK_SECONDS = 3_600  # a restart or a late start still writes the day's head


class AuditService(EventSourcedService):
    name = "audit"
    kernel = ServiceKernel(EventRegistry(), projections=(AuditTrail,))

    @timer(interval=HEAD_CHECK_SECONDS)
    def keep_daily_head(self) -> None:
        settings = self.kernel.settings
        write_daily_head(
            self.kernel.db,
            settings.audit_heads_file,
            self.kernel.clock().date(),
            Mailer(settings) if settings.audit_heads_to else None,
            settings.audit_heads_to,
        )

    @rpc
    def history(self, **asked: Any) -> dict[str, Any]:
        """A page of the audit trail for an investigator (see ``history.history``)."""
        require_granted(self.kernel.actor_role, self.kernel.actor_permissions,
                        Permission.AUDIT_READ)  # fmt: skip
        with self.kernel.db.read() as conn:
            return history.history(conn, **asked)
