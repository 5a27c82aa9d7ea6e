"""nameko entrypoints of the audit service.

It answers the kernel's RPCs (ping, record_probe, read_events) and keeps the audit trail
(``trail.py``): the ``AuditTrail`` projection chains every event of every service as it is
stored, and at start-up and hourly the trail's head goes to a file (daily also an email)
outside the system (``heads.py``). Investigators read it through ``history``
(``history.py``) and the user activity report (``activity.py``), and rebuild what stood at
a past moment: a user's registration (``as_of.py``), a patient's report, or the very report
a user viewed (``as_seen.py``); each report rebuilt is itself recorded (``ReportRebuilt``).
The ``MisuseWatch`` projection judges every patient search and raises
``MisuseSignalRaised`` for what looks like misuse (``misuse.py``); ``misuse_signals`` lists
them.
"""

import base64
import uuid
from typing import Any

from nameko.timer import timer

from pmp.day_steps import daily
from pmp.mail import Mailer
from pmp.rpc import rpc
from pmp.service import EventSourcedService, ServiceKernel
from services.audit import history
from services.audit.activity import activity_entries, activity_pdf, activity_rows
from services.audit.as_of import registration_as_of
from services.audit.as_seen import report_as_seen, report_at
from services.audit.heads import HeadSchedule, write_head
from services.audit.misuse import MisuseWatch, signals_page
from services.audit.projection import AuditTrail
from services.audit.schemas import audit_events
from services.identity.roles import Permission, Role, require_granted
from services.query.documents import patient_history_pdf
from services.query.report import look_back

HEAD_CHECK_SECONDS = 5  # a head soon after start-up (once the trail holds an entry)


class AuditService(EventSourcedService):
    name = "audit"
    kernel = ServiceKernel(audit_events(), projections=(AuditTrail, MisuseWatch))
    heads: HeadSchedule = HeadSchedule()

    @timer(interval=HEAD_CHECK_SECONDS, eager=True)
    def keep_head(self) -> None:
        """The trail's head to the heads file at start-up, then hourly (``heads.py``)."""
        now = self.kernel.clock()
        if not self.heads.due(now):
            return
        settings = self.kernel.settings
        mailer = Mailer(settings) if settings.audit_heads_to else None
        line = write_head(
            self.kernel.db, settings.audit_heads_file, now, mailer, settings.audit_heads_to
        )
        if line is not None:
            self.heads.written(now)

    @rpc
    def history(self, **asked: Any) -> dict[str, Any]:
        """A page of the audit trail for an investigator (see ``history.history``)."""
        self._require_auditor()
        with self.kernel.db.read() as conn:
            return history.history(conn, **asked)

    @rpc
    def misuse_signals(
        self,
        kind: str | None = None,
        account: str | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        """The misuse signals raised, newest first, paged; of one kind, of one searcher."""
        self._require_auditor()
        with self.kernel.db.read() as conn:
            return signals_page(conn, kind=kind, account=account, page=int(page),
                                page_size=int(page_size))  # fmt: skip

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
        pdf = activity_pdf(
            user, period, rows, self._investigator(),
            generated_at=k.clock().isoformat(), timezone=k.settings.timezone.key,
        )  # fmt: skip
        return base64.b64encode(pdf).decode()

    @rpc
    def registration_as_of(self, account_id: str, at: str) -> dict[str, Any]:
        """The account's registration as it stood at ``at`` (None: none had begun)."""
        self._require_auditor()
        moment = history.moment("at", at)
        with self.kernel.db.read() as conn:
            found = registration_as_of(conn, str(account_id), moment)
        return {"account_id": account_id, "as_of": moment.isoformat(), "registration": found}

    @rpc
    def report_as_of(
        self, person_ids: list[str], at: str, months: int = 12, format: str = "json"
    ) -> dict[str, Any] | str:
        """The persons' Patient History Report as it stood at ``at``; ``format`` "pdf" gives
        the document (base64)."""
        self._require_auditor()
        persons = [str(history.person("person_ids", str(p))) for p in person_ids or []]
        if not persons:
            raise history.HistoryRefused("person_ids: name at least one patient.")
        moment = history.moment("at", at)
        k = self.kernel
        look_back(moment.astimezone(k.settings.timezone).date(), months)
        with k.db.read() as conn:
            report = report_at(conn, persons, moment, months, k.settings.timezone,
                               self._investigator(), k.clock())  # fmt: skip
        return self._rebuilt(report, format, entry=None)

    @rpc
    def report_as_seen(self, entry: int, format: str = "json") -> dict[str, Any] | str:
        """The report a user viewed, as the trail's ``entry`` recording it says they saw it."""
        self._require_auditor()
        k = self.kernel
        with k.db.read() as conn:
            report = report_as_seen(
                conn, int(entry), k.settings.timezone, self._investigator(), k.clock()
            )
        return self._rebuilt(report, format, entry=int(entry))

    def _rebuilt(self, report: dict[str, Any], format: str, entry: int | None) -> Any:
        """Record that an investigator saw the report, then give it as asked."""
        if format not in ("json", "pdf"):
            raise history.HistoryRefused("format: choose json or pdf.")
        rebuilt = {
            "person_ids": [p["person_id"] for p in report["patients"]],
            "as_of": report["as_of"],
            "months": report["months"],
            "entry": entry,
            "format": format,
        }
        self.kernel.append(f"rebuild-{uuid.uuid4()}", 0, [("ReportRebuilt", rebuilt)])
        if format == "pdf":
            return base64.b64encode(patient_history_pdf(report)).decode()
        steps = report.pop("mme_steps")  # answered as the live report's API answers it
        report["mme_chart"] = daily(steps, report["from"], report["to"])
        return report

    def _investigator(self) -> dict[str, str]:
        """Who is asking, as a report's header names them."""
        k = self.kernel
        return {
            "account_id": k.actor_id or "",
            "name": k.actor_name,
            "role": k.actor_role or "",
            "role_title": Role(k.actor_role).title if k.actor_role else "",
        }

    def _require_auditor(self) -> None:
        require_granted(self.kernel.actor_role, self.kernel.actor_permissions,
                        Permission.AUDIT_READ)  # fmt: skip
