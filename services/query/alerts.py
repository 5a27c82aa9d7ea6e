"""The clinical alerts a report leads with: a read model of the alerts service's events.

``AlertRaised`` keeps the newest evidence of an episode, ``AlertCleared`` removes it, and
``AlertPolicyChanged`` says which thresholds are in force, and
``AlertAcknowledged`` sets it aside for the one user who acknowledged it, until the date
they chose. A report shows the episodes that reach into its look-back, alerts before
cautions, ongoing ones first; what the requester has snoozed is listed apart, not hidden.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.envelope import RecordedEvent
from pmp.projector import Projection

metadata = sa.MetaData()

patient_alerts = sa.Table(
    "patient_alerts",
    metadata,
    sa.Column("alert_id", sa.Uuid, primary_key=True),
    sa.Column("person_id", sa.Uuid, nullable=False, index=True),
    sa.Column("level", sa.String(10), nullable=False),
    sa.Column("end", sa.Date, nullable=False),
    sa.Column("finding", sa.JSON, nullable=False),
)

snoozes = sa.Table(
    "alert_snoozes",
    metadata,
    sa.Column("alert_id", sa.Uuid, primary_key=True),
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("until", sa.Date, nullable=False),
)
policy_in_force = sa.Table(
    "alert_policy_in_force",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("policy", sa.JSON, nullable=False),
)


class PatientAlerts(Projection):
    name = "query.patient_alerts"
    sources = ("alerts",)
    metadata = metadata

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        data = event.data
        if event.type in ("AlertRaised", "AlertCleared"):
            alert_id = uuid.UUID(data["alert_id"])
            conn.execute(patient_alerts.delete().where(patient_alerts.c.alert_id == alert_id))
            if event.type == "AlertRaised":
                conn.execute(
                    patient_alerts.insert().values(
                        alert_id=alert_id,
                        person_id=uuid.UUID(data["person_id"]),
                        level=data["level"],
                        end=date.fromisoformat(data["end"]),
                        finding=data,
                    )
                )
        elif event.type == "AlertPolicyChanged":
            conn.execute(policy_in_force.delete())
            conn.execute(policy_in_force.insert().values(id=1, policy=data["policy"]))
        elif event.type == "AlertAcknowledged":
            key = (snoozes.c.alert_id == uuid.UUID(data["alert_id"])) & (
                snoozes.c.account_id == data["account_id"]
            )
            conn.execute(snoozes.delete().where(key))
            conn.execute(
                snoozes.insert().values(
                    alert_id=uuid.UUID(data["alert_id"]),
                    account_id=data["account_id"],
                    reason=data["reason"],
                    until=date.fromisoformat(data["until"]),
                )
            )


# Built once, as a report runs each (see ``lookups``).
_POLICY = sa.select(policy_in_force.c.policy)
_ALERTS = sa.select(patient_alerts.c.alert_id, patient_alerts.c.finding).where(
    patient_alerts.c.person_id.in_(sa.bindparam("persons", expanding=True)),
    patient_alerts.c.end >= sa.bindparam("first"),
)
_SNOOZES = sa.select(snoozes).where(
    snoozes.c.alert_id.in_(sa.bindparam("alerts", expanding=True)),
    snoozes.c.account_id == sa.bindparam("account"),
    snoozes.c.until >= sa.bindparam("today"),
)


def report_alerts(
    conn: Connection, person_ids: Sequence[str], account_id: str, first: date, today: date
) -> dict[str, Any]:
    """The alerts section of a report: ``items`` to act on, ``snoozed`` by this requester,
    and the ``policy`` they were evaluated under. Until the alerts service's first policy
    has arrived, ``engine`` is "not connected": nothing was evaluated, which is not "none"."""
    policy = conn.scalar(_POLICY)
    if policy is None:
        return {"engine": "not connected", "items": [], "snoozed": [], "policy": None}
    persons = [uuid.UUID(p) for p in person_ids]
    rows = conn.execute(_ALERTS, {"persons": persons, "first": first}).all()
    asleep = {
        row.alert_id: row
        for row in conn.execute(
            _SNOOZES,
            {"alerts": [r.alert_id for r in rows], "account": account_id, "today": today},
        )
    }
    items, snoozed = [], []
    for row in rows:
        finding = row.finding
        item = {
            **finding,
            "ongoing": date.fromisoformat(finding["end"]) >= today,
            "evidence": finding["summary"],
        }
        if row.alert_id in asleep:
            item["snoozed"] = {
                "reason": asleep[row.alert_id].reason,
                "until": asleep[row.alert_id].until.isoformat(),
            }
            snoozed.append(item)
        else:
            items.append(item)
    return {
        "engine": "connected",
        "items": _newest_end_first(items),
        "snoozed": _newest_end_first(snoozed),
        "policy": policy,
    }


def _newest_end_first(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alerts before cautions, ongoing before ended, and the latest episodes first."""
    return sorted(
        items,
        key=lambda a: (
            a["level"] != "alert",
            not a["ongoing"],
            -date.fromisoformat(a["end"]).toordinal(),
        ),
    )
