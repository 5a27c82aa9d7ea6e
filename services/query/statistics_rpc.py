"""The statistical report's RPCs (a mixin of ``QueryService``): the table, CSV and PDF."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

from pmp.csv_files import csv_text
from pmp.rpc import rpc
from services.identity.roles import Permission, Role, require_granted
from services.query import statistics
from services.query.documents import statistics_pdf

TITLES = {
    "individual": "reports requested per individual",
    "role": "reports requested per role",
    "day": "reports requested per day",
    "month": "reports requested per month",
}


class StatisticsRpc:
    """Administrators only (``statistics.view``)."""

    @rpc
    def statistics(
        self, group: str = "individual", sort: str = "Reports", descending: bool = True,
        date_from: str | None = None, date_to: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Reports requested, grouped and sorted; ``date_from``/``date_to`` ISO days."""
        require_granted(self.kernel.actor_role, self.kernel.actor_permissions,
                        Permission.STATISTICS_VIEW)  # fmt: skip
        first, last = _day("from", date_from), _day("to", date_to)
        with self.kernel.db.read() as conn:
            return statistics.table(conn, group, sort, bool(descending), first, last)

    @rpc
    def statistics_csv(self, **asked: Any) -> str:
        """The same table as CSV text (a name typed at registration cannot run as a formula)."""
        found = self.statistics(**asked)
        return csv_text(found["columns"], found["rows"])

    @rpc
    def statistics_pdf(self, **asked: Any) -> str:
        """The same table as a PDF (base64)."""
        found = self.statistics(**asked)
        k = self.kernel
        requester = {
            "account_id": k.actor_id or "",
            "name": k.actor_name,
            "role": k.actor_role or "",
            "role_title": Role(k.actor_role).title,
        }
        document = {
            "title": f"Statistical report: {TITLES[found['group']]}",
            "generated_at": k.clock().isoformat(),
            "timezone": k.settings.timezone.key,
            "requester": requester,
            **found,
        }
        return base64.b64encode(statistics_pdf(document)).decode()


def _day(name: str, text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise statistics.StatisticsRefused(f"{name}: give a date as YYYY-MM-DD.") from None
