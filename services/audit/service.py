"""nameko entrypoints of the audit service.

It answers the kernel's RPCs (ping, record_probe, read_events) and keeps the audit trail
(``trail.py``): the ``AuditTrail`` projection chains every event of every service as it is
stored, and once a day the trail's head goes to a file (and an email) outside the system
(``heads.py``). Investigators read it through ``history`` (``history.py``) and the user
activity report (``activity.py``).
"""

import base64
from typing import Any

from nameko.rpc import rpc
from nameko.timer import timer

from pmp.mail import Mailer
from pmp.registry import EventRegistry
from pmp.service import EventSourcedService, ServiceKernel
from services.audit import history
from services.audit.activity import activity_entries, activity_pdf, activity_rows
from services.audit.heads import write_daily_head
from services.audit.projection import AuditTrail
from services.identity.roles import Permission, Role, require_granted

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
        self._require_auditor()
        with self.kernel.db.read() as conn:
            return history.history(conn, **asked)

    @rpc
    def user_activity(
        self, user: str, since: str | None = None, until: str | None = None
    ) -> dict[str, Any]:
        """The user activity report's lines, oldest first (see ``activity.py``)."""
        self._require_auditor()
        with self.kernel.db.read() as conn:
            entries = activity_entries(conn, user, since, until)
        return {"rows": activity_rows(entries, self.kernel.settings.timezone)}

    @rpc
    def user_activity_pdf(
        self, user: str, period: str, since: str | None = None, until: str | None = None
    ) -> str:
        """The same report as a PDF (base64); ``period`` as the investigator chose it."""
        rows = self.user_activity(user, since, until)["rows"]
        k = self.kernel
        requester = {
            "account_id": k.actor_id or "",
            "name": k.actor_name,
            "role": k.actor_role or "",
            "role_title": Role(k.actor_role).title if k.actor_role else "",
        }
        pdf = activity_pdf(
            user, period, rows, requester,
            generated_at=k.clock().isoformat(), timezone=k.settings.timezone.key,
        )  # fmt: skip
        return base64.b64encode(pdf).decode()

    def _require_auditor(self) -> None:
        require_granted(self.kernel.actor_role, self.kernel.actor_permissions,
                        Permission.AUDIT_READ)  # fmt: skip
