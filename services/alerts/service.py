"""nameko entrypoints of the alerts service.

The rules run in the ``AlertWatch`` projection (``watch.py``), not here: these RPCs are the
administrators' policy and the clinicians' acknowledgements, both recorded as events.
"""

from __future__ import annotations

import uuid
from typing import Any

from pmp.envelope import Metadata, NewEvent
from pmp.eventstore import ConcurrencyError, EventStore
from pmp.months import add_months
from pmp.registry import load_or_refuse
from pmp.rpc import rpc
from pmp.service import EventSourcedService, ServiceKernel
from services.alerts import notices
from services.alerts.notices import PrescriberNotices
from services.alerts.policy import (
    METHADONE_METHODS,
    POLICY_STREAM,
    AlertPolicy,
    PolicySchema,
    policy_in_force,
)
from services.alerts.schemas import Acknowledgement, alerts_events
from services.alerts.watch import AlertWatch, standing_alert
from services.identity.roles import Permission, require_granted


class PolicyRefused(ValueError):
    """The policy sent is not acceptable; the message names each field."""


class AcknowledgementRefused(ValueError):
    """The acknowledgement sent is not acceptable; the message names each field."""


class NotFound(LookupError):
    """No such standing alert."""


class AlertsKernel(ServiceKernel):
    """The first start records the default policy, so every alert, and every report that
    says none stands, can name the thresholds it was evaluated under."""

    def start(self) -> None:
        super().start()
        if not self.store.read_stream(POLICY_STREAM):
            meta = Metadata(occurred_at=self.clock())
            policy = {"policy": AlertPolicy().to_json()}
            try:
                self.store.append(POLICY_STREAM, 0, [NewEvent("AlertPolicyChanged", policy, meta)])
            except ConcurrencyError:  # another replica recorded it first
                return
            self.events_appended()


class AlertsService(EventSourcedService):
    name = "alerts"
    kernel = AlertsKernel(
        alerts_events(),
        projections=(AlertWatch,),
        tables=(notices.metadata,),
        reactions=(PrescriberNotices,),
    )

    @rpc
    def alert_policy(self) -> dict[str, Any]:
        """The thresholds in force, and the methadone methods to choose from."""
        self._require(Permission.POLICY_MANAGE)
        return {
            "policy": policy_in_force(self.kernel.store).to_json(),
            "methadone_methods": METHADONE_METHODS,
        }

    @rpc
    def change_alert_policy(self, policy: dict[str, Any]) -> dict[str, Any]:
        """Set every threshold at once; every person is evaluated again under it."""
        self._require(Permission.POLICY_MANAGE)
        loaded = load_or_refuse(PolicySchema(), policy, PolicyRefused)
        changed = AlertPolicy(**loaded).to_json()
        self.kernel.append(POLICY_STREAM, EventStore.ANY, [("AlertPolicyChanged",
                                                             {"policy": changed})])  # fmt: skip
        return {"policy": changed, "methadone_methods": METHADONE_METHODS}

    @rpc
    def acknowledge_alert(self, alert_id: str, acknowledgement: dict[str, Any]) -> dict[str, Any]:
        """The caller sets a standing alert aside for 1, 3 or 6 months, for themselves only,
        with the reason (for example cancer care or hospice)."""
        self._require(Permission.ALERT_ACKNOWLEDGE)
        given = load_or_refuse(Acknowledgement(), acknowledgement, AcknowledgementRefused)
        try:
            wanted = uuid.UUID(str(alert_id))
        except ValueError:
            raise NotFound("There is no such alert.") from None
        with self.kernel.db.read() as conn:
            alert = standing_alert(conn, wanted)
        if alert is None:
            raise NotFound("There is no such alert, or it no longer stands.")
        today = self.kernel.clock().astimezone(self.kernel.settings.timezone).date()
        until = add_months(today, given["snooze_months"])
        event = {"alert_id": str(wanted), "person_id": alert["person_id"],
                 "account_id": self.kernel.actor_id or "", "reason": given["reason"].strip(),
                 "snooze_months": given["snooze_months"], "until": until.isoformat()}  # fmt: skip
        self.kernel.append(f"alert-{wanted}", EventStore.ANY, [("AlertAcknowledged", event)])
        return event

    def _require(self, permission: Permission) -> None:
        require_granted(self.kernel.actor_role, self.kernel.actor_permissions, permission)
