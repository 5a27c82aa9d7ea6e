"""What a user's earlier days say is usual: the hours they search in, and how many searches
their day (and their peers' day) has.

Both come from the baseline period before the day a search is judged on, which does not
change during that day. So each is read from the watch's tables once per user (or role) and
day, not once per search: a busy user's ninety days of searches are not read back on every
search they make. Kept in memory only; a restart reads them again, to the same values.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from services.audit import misuse_facts as facts
from services.audit.signals import DailyBaseline, MisusePolicy, UsualHours, usual_hours


class Baselines:
    """The baselines of one day (the newest judged); another day starts them afresh."""

    def __init__(self, policy: MisusePolicy, zone: ZoneInfo):
        self.policy = policy
        self.zone = zone
        self.forget()

    def forget(self) -> None:
        """Read everything again (after a rebuild, or an event set aside)."""
        self._day: date | None = None
        self._hours: dict[str, UsualHours | None] = {}
        self._days: dict[str, list[tuple[str, int]]] = {}
        self._roles: dict[str, DailyBaseline] = {}

    def usual_hours(self, conn: Connection, account_id: str, day: date) -> UsualHours | None:
        self._on(day)
        if account_id not in self._hours:
            since = self._midnight(day - timedelta(days=self.policy.baseline_days))
            earlier = facts.earlier_times(conn, account_id, since, self._midnight(day))
            self._hours[account_id] = usual_hours(earlier, self.policy, self.zone)
        return self._hours[account_id]

    def daily(
        self, conn: Connection, account_id: str, role: str, day: date
    ) -> tuple[DailyBaseline, DailyBaseline]:
        """The user's usual day, and that of the other users of ``role``."""
        self._on(day)
        days = self.policy.baseline_days
        if account_id not in self._days:
            self._days[account_id] = facts.days_searched(conn, account_id, day, days)
        if role not in self._roles:
            self._roles[role] = facts.role_days(conn, role, day, days)
        own = self._days[account_id]
        in_role = DailyBaseline.of(searches for was, searches in own if was == role)
        return DailyBaseline.of(searches for _, searches in own), self._roles[role] - in_role

    def _on(self, day: date) -> None:
        if day != self._day:
            self.forget()
            self._day = day

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.zone)
