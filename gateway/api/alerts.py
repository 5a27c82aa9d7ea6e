"""Clinical alerts in the JSON API: acknowledging (snoozing) an alert, and the
administrators' alert policy (see ``services/alerts/``)."""

from __future__ import annotations

import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.api.registration import problem_response
from gateway.http import http
from gateway.responses import NO_STORE, json_response
from gateway.schemas import (
    AlertAcknowledgedSchema,
    AlertAcknowledgementSchema,
    AlertPolicyInForceSchema,
    AlertPolicySchema,
    load_body,
)
from services.identity.roles import Permission

_DOCUMENTED = {
    "refused": problem_response("A field is missing or out of range; each is named."),
}


class AlertsApi:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    def _alerts(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("alerts", method, self.settings.rpc_timeout, **kwargs)

    @http("POST", "/api/alerts/<uuid:alert_id>/acknowledgements")
    def api_acknowledge_alert(self, request: Request, alert_id: uuid.UUID) -> Response:
        """Acknowledge a clinical alert.
        ---
        post:
          summary: Set an alert aside for yourself for 1, 3 or 6 months, with the reason
          description: >
            Needs the permission `alert.acknowledge` (prescribers, pharmacists, delegates).
            The acknowledgement is recorded (AlertAcknowledged) and only your own reports
            list the alert apart, as snoozed, until the date returned.
          security:
            - sessionToken: []
          parameters:
            - in: path
              name: alert_id
              required: true
              schema:
                type: string
                format: uuid
          requestBody:
            required: true
            content:
              application/json:
                schema: AlertAcknowledgement
          responses:
            201:
              description: The acknowledgement, with the date the snooze ends.
              content:
                application/json:
                  schema: AlertAcknowledged
            401: NotSignedIn
            403: RoleRefused
            404:
              description: No such alert, or it no longer stands.
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.ALERT_ACKNOWLEDGE)
        body = load_body(AlertAcknowledgementSchema(), request)
        done = self._alerts("acknowledge_alert", alert_id=str(alert_id), acknowledgement=body)
        return json_response(AlertAcknowledgedSchema().dump(done), status=201, **NO_STORE)

    @http("GET", "/api/alert-policy")
    def api_alert_policy(self, request: Request) -> Response:
        """The alert policy in force.
        ---
        get:
          summary: The thresholds of the clinical alert rules
          description: Needs the permission `policy.manage` (administrators).
          security:
            - sessionToken: []
          responses:
            200:
              description: The policy and the methadone methods to choose from.
              content:
                application/json:
                  schema: AlertPolicyInForce
            401: NotSignedIn
            403: RoleRefused
        """
        self.auth.require(request, self.services, Permission.POLICY_MANAGE)
        found = self._alerts("alert_policy")
        return json_response(AlertPolicyInForceSchema().dump(found), **NO_STORE)

    @http("PUT", "/api/alert-policy")
    def api_change_alert_policy(self, request: Request) -> Response:
        """Change the alert policy.
        ---
        put:
          summary: Set every threshold of the clinical alert rules at once
          description: >
            Needs the permission `policy.manage` (administrators). Recorded as
            AlertPolicyChanged; every person is evaluated again under the new policy
            within seconds.
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: AlertPolicy
          responses:
            200:
              description: The policy now in force.
              content:
                application/json:
                  schema: AlertPolicyInForce
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.POLICY_MANAGE)
        body = load_body(AlertPolicySchema(), request)
        changed = self._alerts("change_alert_policy", policy=body)
        return json_response(AlertPolicyInForceSchema().dump(changed), **NO_STORE)

    api_acknowledge_alert.__doc__ = api_acknowledge_alert.__doc__.format(**_DOCUMENTED)
    api_change_alert_policy.__doc__ = api_change_alert_policy.__doc__.format(**_DOCUMENTED)
