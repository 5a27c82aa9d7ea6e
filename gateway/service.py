"""The gateway: HTML pages and the JSON API. It keeps no state; services own everything.

Handlers stay thin: check who is asking, call services, render. Routes under ``/api/`` and
``/healthz`` are documented in the OpenAPI document from the YAML at the end of their
docstrings.
"""

from __future__ import annotations

import hmac
import mimetypes
import time
import uuid
from datetime import UTC, datetime
from importlib import resources
from importlib.metadata import version
from typing import Any

import eventlet
from werkzeug.wrappers import Request, Response

from gateway.api.accounts import AccountApi
from gateway.api.admin import AdminApi
from gateway.api.registration import RegistrationApi
from gateway.api.review import ReviewApi
from gateway.auth import Authentication
from gateway.http import http
from gateway.openapi import build_spec
from gateway.pages.accounts import AccountPages
from gateway.pages.admin import AdminPages
from gateway.pages.alerts import AlertPages
from gateway.pages.as_of import AsOfPages
from gateway.pages.audit import AuditPages
from gateway.pages.credentials import CredentialPages
from gateway.pages.helpdesk import HelpdeskPages
from gateway.pages.misuse import MisusePages
from gateway.pages.mm import RegistryPages
from gateway.pages.patient_matches import PatientMatchPages
from gateway.pages.patients import PatientPages
from gateway.pages.registration import RegistrationPages
from gateway.pages.review import ReviewPages
from gateway.pages.statistics import StatisticsPages
from gateway.pages.submissions import SubmissionPages
from gateway.problems import Problem
from gateway.responses import json_response
from gateway.schemas import HealthSchema, ProbeCreatedSchema, ProbeStatusSchema
from pmp.broker import BrokerUnreachable, check_broker
from pmp.calls import Services
from pmp.config import Settings, load_settings
from pmp.logs import configure_logging
from pmp.service import CorrelatedWorkers
from pmp.topology import SERVICE_NAMES, SERVICES

STATIC = resources.files("gateway") / "static"


class GatewaySetup(CorrelatedWorkers):
    """Settings and logging for the gateway process; workers get the ``Settings``."""

    def setup(self) -> None:
        self.settings = load_settings()
        configure_logging("gateway", self.settings.log_level)

    def get_dependency(self, worker_ctx) -> Settings:
        return self.settings


class GatewayService(
    AccountPages,
    AdminPages,
    CredentialPages,
    RegistrationPages,
    ReviewPages,
    SubmissionPages,
    PatientMatchPages,
    PatientPages,
    RegistryPages,
    AlertPages,
    AuditPages,
    AsOfPages,
    MisusePages,
    StatisticsPages,
    HelpdeskPages,
    AccountApi,
    AdminApi,
    RegistrationApi,
    ReviewApi,
):
    name = "gateway"
    settings: Settings = GatewaySetup()
    services = Services()
    auth = Authentication()

    # -- pages -----------------------------------------------------------------------------

    @http("GET", "/")
    def home(self, request: Request) -> Response:
        principal = self._visitor(request)
        return self.auth.page(request, "home.html", principal, title="Home", active="home")

    @http("GET", "/status")
    def status_page(self, request: Request) -> Response:
        health = self._health()
        return self.auth.page(
            request,
            "status.html",
            title="System status",
            active="status",
            health=health,
            services=SERVICES,
            checked_at=health["checked_at"],
            timeout=self.settings.health_timeout,
            principal=self._visitor(request),
        )

    def _visitor(self, request: Request) -> dict[str, Any] | None:
        """Who is signed in, for the navigation; anonymous if identity cannot tell."""
        try:
            return self.auth.principal(request, self.services)
        except Exception:  # the home and status pages must show even with identity down
            return None

    @http("GET", "/static/<path:filename>")
    def static(self, request: Request, filename: str) -> Response:
        asset = STATIC / filename
        if "/" in filename or not asset.is_file():
            raise Problem(404, "Not found", f"There is no file called {filename}.")
        kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return Response(asset.read_bytes(), mimetype=kind, headers={"Cache-Control": "max-age=300"})

    # -- API -------------------------------------------------------------------------------

    @http("GET", "/healthz")
    def healthz(self, request: Request) -> Response:
        """Whether the broker and every service answer, and every projection is current.
        ---
        get:
          summary: Health of the broker, every service, and every projection and reaction
          description: >
            Each service is pinged over RPC with a deadline of PMP_HEALTH_TIMEOUT; its answer
            says, for each projection and reaction it runs, the lag (how long the oldest event
            not yet applied has waited), the checkpoints and the events set aside. The status
            is degraded when anything does not answer, a projection or reaction is behind by
            more than PMP_PROJECTION_LAG_LIMIT seconds, failed its last try (a source, the
            broker or its database unreachable), or one has set events aside. It answers
            within PMP_HEALTH_TIMEOUT even while the broker is down.
          responses:
            200:
              description: Everything answered, is current, and nothing is set aside.
              content:
                application/json:
                  schema: Health
            503:
              description: >
                Something did not answer, is behind, or set events aside; the body says what.
              content:
                application/json:
                  schema: Health
        """
        health = self._health()
        body = HealthSchema().dump(health)
        return json_response(body, 200 if health["status"] == "ok" else 503)

    def _health(self) -> dict[str, Any]:
        timeout = self.settings.health_timeout
        checking = eventlet.spawn(self._broker_health, timeout)  # alongside the pings
        outcomes = self.services.call_many(SERVICE_NAMES, "ping", timeout)
        broker = checking.wait()
        services = {}
        consumers: dict[str, dict[str, Any]] = {}
        for name, outcome in outcomes.items():
            if outcome.error is None:
                services[name] = {"status": "ok", "latency_ms": outcome.latency_ms}
                consumers |= consumer_health(
                    name, outcome.value.get("consumers", []), self.settings.projection_lag_limit
                )
            else:
                services[name] = {"status": "down", "latency_ms": None, "error": str(outcome.error)}
        healthy = (
            broker["status"] == "ok"
            and all(s["status"] == "ok" for s in services.values())
            and all(c["status"] == "ok" for c in consumers.values())
        )
        return {
            "status": "ok" if healthy else "degraded",
            "checked_at": datetime.now(UTC),
            "broker": broker,
            "services": services,
            "projections": consumers,
            "lag_limit_seconds": self.settings.projection_lag_limit,
        }

    def _broker_health(self, timeout: float) -> dict[str, Any]:
        """The broker's answer to a fresh connection, within ``timeout`` (kombu's own
        connection retries would outlast it while the broker is down)."""
        started = time.monotonic()
        try:
            with eventlet.Timeout(timeout, BrokerUnreachable(f"no answer within {timeout} s")):
                check_broker(self.settings.amqp_uri, timeout=timeout)
        except BrokerUnreachable as exc:
            return {"status": "down", "latency_ms": None, "error": str(exc)}
        return {"status": "ok", "latency_ms": _ms_since(started)}

    @http("GET", "/api/openapi.json")
    def openapi(self, request: Request) -> Response:
        """This document.
        ---
        get:
          summary: The OpenAPI 3.1 document of this API
          responses:
            200:
              description: The document.
        """
        return json_response(build_spec(type(self), version("cpmrs")))

    @http("POST", "/api/diagnostics/probes")
    def create_probe(self, request: Request) -> Response:
        """Ask every service to record a pipeline probe event.
        ---
        post:
          summary: Send a probe through every service's store, relay and the broker
          description: >
            Each service records a ProbeRecorded event. Follow status_url to see which
            probes reached the query service's projection.
          security:
            - operatorToken: []
          responses:
            202:
              description: The probe was recorded by the services listed in `recorded`.
              content:
                application/json:
                  schema: ProbeCreated
            401:
              description: No or wrong operator token.
              content:
                application/problem+json:
                  schema: Problem
            403:
              description: The diagnostics API is disabled (no PMP_OPERATOR_TOKEN).
              content:
                application/problem+json:
                  schema: Problem
        """
        self._require_operator(request)
        probe_id = str(uuid.uuid4())
        outcomes = self.services.call_many(
            SERVICE_NAMES, "record_probe", self.settings.rpc_timeout, probe_id=probe_id
        )
        status_url = f"/api/diagnostics/probes/{probe_id}"
        body = ProbeCreatedSchema().dump(
            {
                "probe_id": probe_id,
                "recorded": [s for s, o in outcomes.items() if o.error is None],
                "failed": {s: str(o.error) for s, o in outcomes.items() if o.error is not None},
                "status_url": status_url,
            }
        )
        return json_response(body, 202, Location=status_url)

    @http("GET", "/api/diagnostics/probes/<uuid:probe_id>")
    def probe_status(self, request: Request, probe_id: uuid.UUID) -> Response:
        """Which services' probes reached the query service.
        ---
        get:
          summary: Arrival of a probe at the query service, per service
          security:
            - operatorToken: []
          parameters:
            - in: path
              name: probe_id
              required: true
              schema:
                type: string
                format: uuid
          responses:
            200:
              description: Arrivals so far.
              content:
                application/json:
                  schema: ProbeStatus
            401:
              description: No or wrong operator token.
              content:
                application/problem+json:
                  schema: Problem
        """
        self._require_operator(request)
        arrived = self.services.call(
            "query", "probe_arrivals", self.settings.rpc_timeout, probe_id=str(probe_id)
        )
        missing = [s for s in SERVICE_NAMES if s not in arrived]
        body = ProbeStatusSchema().dump(
            {
                "probe_id": probe_id,
                "complete": not missing,
                "arrived": {s: datetime.fromisoformat(t) for s, t in arrived.items()},
                "missing": missing,
            }
        )
        return json_response(body)

    def _require_operator(self, request: Request) -> None:
        """Deny unless the request carries the operators' bearer token."""
        expected = self.settings.operator_token
        if not expected:
            raise Problem(
                403,
                "The diagnostics API is disabled",
                "An operator must set PMP_OPERATOR_TOKEN to enable it.",
            )
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected.encode()):
            raise Problem(401, "Operator token required", "Send Authorization: Bearer <token>.")

    # -- everything else -------------------------------------------------------------------

    @http("GET,POST,PUT,PATCH,DELETE", "/<path:path>")
    def not_found(self, request: Request, path: str) -> Response:
        raise Problem(404, "Page not found", "Check the address, or start from the home page.")


def consumer_health(
    service: str, consumers: list[dict[str, Any]], lag_limit: float
) -> dict[str, dict[str, Any]]:
    """Each projection and reaction a service's ping reported, judged: set aside before
    failing before behind, since an event set aside stays until an operator acts, and a
    projection whose last try failed (its source or database unreachable) is stuck now,
    long before its lag passes the limit."""
    judged = {}
    for consumer in consumers:
        lag = consumer.get("lag_seconds")
        status = "ok"
        if consumer["set_aside"]:
            status = "set_aside"
        elif consumer.get("error"):
            status = "failing"
        elif lag is not None and lag > lag_limit:
            status = "behind"
        judged[consumer["name"]] = {**consumer, "service": service, "status": status}
    return judged


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
