"""Clinical alert pages: acknowledging an alert from the report, and the administrators'
alert policy form."""

from __future__ import annotations

import re
import uuid
from typing import Any

from nameko.exceptions import RemoteError
from werkzeug.wrappers import Request, Response

from gateway.api.alerts import AlertsApi
from gateway.http import http
from gateway.pages.accounts import redirect
from gateway.problems import Problem
from gateway.redirects import site_path
from services.alerts.policy import METHADONE_METHODS
from services.identity.roles import Permission
from services.registration.forms import FORM_ERROR, errors_in

# Back to the report the alert was acknowledged on, and nowhere else (no open redirect).
REPORT_PATH = re.compile(r"^/searches/[0-9a-f-]{36}/report\?[A-Za-z0-9=&%._-]*$")
REASONS = (
    "Cancer care",
    "Hospice or palliative care",
    "Sickle cell disease",
    "Acute pain after surgery or injury",
    "Under a pain specialist's care",
)
INTEGERS = (
    "provider_prescribers",
    "provider_pharmacies",
    "provider_window_days",
    "long_term_days",
    "long_term_gap_days",
    "notice_period_days",
)
NUMBERS = ("mme_caution", "mme_alert")


class AlertPages(AlertsApi):
    """Mixin of the gateway service (see ``gateway/service.py``); the API comes with it."""

    @http("POST", "/alerts/<uuid:alert_id>/acknowledge")
    def acknowledge_alert(self, request: Request, alert_id: uuid.UUID) -> Response:
        self.auth.check_csrf(request)
        self.auth.require(request, self.services, Permission.ALERT_ACKNOWLEDGE)
        back = site_path(request.form.get("next"), default="/search")
        if not REPORT_PATH.match(back):
            back = "/search"
        try:
            months = int(request.form.get("snooze_months", ""))
        except ValueError:
            months = 0
        acknowledgement = {
            "reason": request.form.get("reason", "").strip(),
            "snooze_months": months,
        }
        try:
            done = self._alerts(
                "acknowledge_alert", alert_id=str(alert_id), acknowledgement=acknowledgement
            )
        except RemoteError as exc:
            if exc.exc_type != "AcknowledgementRefused":
                raise
            raise Problem(
                422,
                "The acknowledgement was refused",
                f"{exc.value} Go back to the report, give a reason and choose 1, 3 or 6 months.",
            ) from None
        separator = "&" if "?" in back else "?"
        return redirect(f"{back}{separator}acknowledged={done['until']}")

    @http("GET", "/admin/alert-policy")
    def alert_policy_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.POLICY_MANAGE)
        found = self._alerts("alert_policy")
        return self._alert_policy_page(request, principal, found["policy"])

    @http("POST", "/admin/alert-policy")
    def change_alert_policy(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self.auth.require(request, self.services, Permission.POLICY_MANAGE)
        values: dict[str, Any] = {
            name: request.form.get(name, "").strip()
            for name in (*INTEGERS, *NUMBERS, "methadone_method")
        }
        values["notify_prescribers"] = request.form.get("notify_prescribers") == "1"
        policy, errors = _typed(values)
        if not errors:
            try:
                changed = self._alerts("change_alert_policy", policy=policy)
            except RemoteError as exc:
                if exc.exc_type != "PolicyRefused":
                    raise
                errors = errors_in(str(exc.value), set(values))
            else:
                return self._alert_policy_page(request, principal, changed["policy"], saved=True)
        form_error = errors.pop(FORM_ERROR, None)
        return self._alert_policy_page(request, principal, values, 422, errors, form_error)

    def _alert_policy_page(
        self,
        request: Request,
        principal: dict[str, Any],
        policy: dict[str, Any],
        status: int = 200,
        errors: dict[str, str] | None = None,
        form_error: str | None = None,
        saved: bool = False,
    ) -> Response:
        shown = {k: f"{v:g}" if isinstance(v, float) else v for k, v in policy.items()}
        return self.auth.page(
            request,
            "alert_policy.html",
            principal,
            status,
            title="Alert policy",
            active="alert-policy",
            policy=shown,
            errors=errors or {},
            form_error=form_error,
            saved=saved,
            methods=list(METHADONE_METHODS.items()),
        )


def _typed(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The form's text as the policy's numbers; a field that is not a number is named."""
    typed: dict[str, Any] = dict(values)
    errors: dict[str, str] = {}
    for name in INTEGERS:
        try:
            typed[name] = int(values[name])
        except ValueError:
            errors[name] = "Enter a whole number."
    for name in NUMBERS:
        try:
            typed[name] = float(values[name])
        except ValueError:
            errors[name] = "Enter a number."
    return typed, errors
