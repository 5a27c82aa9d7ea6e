"""The services of the system and where their nameko classes live.

Used by ``pmp up`` (what to start), the gateway (what ``/healthz`` pings) and the query
service (whose events it projects). Adding a service means adding it here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str  # the module ``nameko run`` loads
    owns: str  # one line for operators: what the service is responsible for
    title: str = ""  # how people name it; defaults to the capitalised name

    @property
    def display_name(self) -> str:
        return self.title or self.name.capitalize()

    @property
    def class_name(self) -> str:
        return f"{self.name.capitalize()}Service"

    def load(self) -> type:
        """Import and return the nameko service class."""
        return getattr(importlib.import_module(self.module), self.class_name)


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "identity", "services.identity.service", "accounts, sessions, MFA, lockout, suspension"
    ),
    ServiceSpec(
        "registration",
        "services.registration.service",
        "applications, email verification, documents, approval, renewal",
    ),
    ServiceSpec(
        "submissions",
        "services.submissions.service",
        "ASAP dispensation intake, drug reference, patient index",
    ),
    ServiceSpec(
        "query", "services.query.service", "read models, patient search, reports, statistics"
    ),
    ServiceSpec("alerts", "services.alerts.service", "clinical alert rules and notifications"),
    ServiceSpec("audit", "services.audit.service", "hash-chained audit store and replay"),
    ServiceSpec(
        "helpdesk", "services.helpdesk.service", "problem tickets by priority", title="Help desk"
    ),
)

SERVICE_NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)
GATEWAY = ServiceSpec("gateway", "gateway.service", "HTML pages and the JSON API")


def spec_of(name: str) -> ServiceSpec:
    """The spec of service ``name`` (or the gateway); KeyError names the choices."""
    for spec in (*SERVICES, GATEWAY):
        if spec.name == name:
            return spec
    raise KeyError(f"unknown service {name!r}; choose from {', '.join(SERVICE_NAMES)}, gateway")
