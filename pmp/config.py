"""Every ``PMP_*`` environment variable, read in this one module.

Each setting has a working default so that ``make run`` needs nothing but a local RabbitMQ.
The README's table of variables is generated from ``VARIABLES`` (``pmp config``), so the two
cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(ValueError):
    """A ``PMP_*`` variable holds a value that cannot be used; the message names it."""


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    help: str


VARIABLES: tuple[Variable, ...] = (
    Variable("PMP_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/", "RabbitMQ broker URL."),
    Variable(
        "PMP_DATABASE_URL",
        "",
        "Event stores and read models. Empty: one SQLite file per service in PMP_DATA_DIR. "
        "`postgresql+psycopg://user@host/db`: one PostgreSQL schema per service.",
    ),
    Variable(
        "PMP_SCHEMA_PREFIX",
        "",
        "Prefix of each service's PostgreSQL schema, to keep two deployments in one database.",
    ),
    Variable("PMP_DATA_DIR", "var", "Folder for SQLite files and lock files (embedded mode)."),
    Variable("PMP_GATEWAY_ADDRESS", "127.0.0.1:8000", "host:port the gateway listens on."),
    Variable("PMP_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR."),
    Variable("PMP_TIMEZONE", "America/New_York", "The program's time zone for display."),
    Variable("PMP_RPC_TIMEOUT", "10", "Seconds the gateway waits for a service's answer."),
    Variable("PMP_HEALTH_TIMEOUT", "2", "Seconds /healthz waits for each service's ping."),
    Variable("PMP_RELAY_BATCH_SIZE", "500", "Events per relay batch (one publisher confirm)."),
    Variable(
        "PMP_POLL_INTERVAL",
        "1.0",
        "Seconds between store polls by relays and projectors when no wake-up arrives.",
    ),
    Variable(
        "PMP_OPERATOR_TOKEN",
        "",
        "Bearer token for the operators' diagnostics API. Empty: those endpoints refuse all.",
    ),
    Variable("PMP_SERVICES", "", "Comma-separated services `pmp up` starts. Empty: all."),
)


@dataclass(frozen=True)
class Settings:
    amqp_uri: str
    database_url: str
    schema_prefix: str
    data_dir: Path
    gateway_host: str
    gateway_port: int
    log_level: str
    timezone: ZoneInfo
    rpc_timeout: float
    health_timeout: float
    relay_batch_size: int
    poll_interval: float
    operator_token: str
    services: tuple[str, ...]

    @property
    def embedded(self) -> bool:
        """True when each service keeps its own SQLite file (no PMP_DATABASE_URL)."""
        return not self.database_url

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gateway_host}:{self.gateway_port}"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``environ`` (the process environment by default)."""
    env = os.environ if environ is None else environ

    def get(name: str) -> str:
        default = next(v.default for v in VARIABLES if v.name == name)
        return env.get(name, default).strip()

    host, _, port = get("PMP_GATEWAY_ADDRESS").rpartition(":")
    level = get("PMP_LOG_LEVEL").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"PMP_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
    try:
        timezone = ZoneInfo(get("PMP_TIMEZONE"))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"PMP_TIMEZONE {get('PMP_TIMEZONE')!r} is not a known time zone") from exc
    database_url = get("PMP_DATABASE_URL")
    if database_url and not database_url.startswith(("postgresql", "sqlite")):
        raise ConfigError("PMP_DATABASE_URL must be a postgresql+psycopg:// or sqlite:// URL")
    return Settings(
        amqp_uri=get("PMP_AMQP_URI"),
        database_url=database_url,
        schema_prefix=get("PMP_SCHEMA_PREFIX"),
        data_dir=Path(get("PMP_DATA_DIR")).resolve(),
        gateway_host=host or "127.0.0.1",
        gateway_port=_number(int, "PMP_GATEWAY_ADDRESS", port),
        log_level=level,
        timezone=timezone,
        rpc_timeout=_number(float, "PMP_RPC_TIMEOUT", get("PMP_RPC_TIMEOUT")),
        health_timeout=_number(float, "PMP_HEALTH_TIMEOUT", get("PMP_HEALTH_TIMEOUT")),
        relay_batch_size=_number(int, "PMP_RELAY_BATCH_SIZE", get("PMP_RELAY_BATCH_SIZE")),
        poll_interval=_number(float, "PMP_POLL_INTERVAL", get("PMP_POLL_INTERVAL")),
        operator_token=get("PMP_OPERATOR_TOKEN"),
        services=tuple(s.strip() for s in get("PMP_SERVICES").split(",") if s.strip()),
    )


def _number(kind: type, name: str, text: str):
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"{name} must be a {kind.__name__} number, not {text!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero, not {text!r}")
    return value
