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
    Variable(
        "PMP_DB_POOL_SIZE",
        "2",
        "PostgreSQL connections each service process keeps open between requests.",
    ),
    Variable(
        "PMP_DB_MAX_CONNECTIONS",
        "6",
        "Most PostgreSQL connections one service process opens for its work at once (those "
        "above PMP_DB_POOL_SIZE close when done), plus one that holds its advisory locks.",
    ),
    Variable("PMP_DATA_DIR", "var", "Folder for SQLite files and lock files (embedded mode)."),
    Variable("PMP_GATEWAY_ADDRESS", "127.0.0.1:8000", "host:port the gateway listens on."),
    Variable("PMP_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR."),
    Variable("PMP_TIMEZONE", "America/New_York", "The program's time zone for display."),
    Variable("PMP_RPC_TIMEOUT", "10", "Seconds the gateway waits for a service's answer."),
    Variable("PMP_HEALTH_TIMEOUT", "2", "Seconds /healthz waits for each service's ping."),
    Variable(
        "PMP_PROJECTION_LAG_LIMIT",
        "60",
        "Seconds a projection or reaction may fall behind before /healthz says degraded.",
    ),
    Variable("PMP_RELAY_BATCH_SIZE", "500", "Events per relay batch (one publisher confirm)."),
    Variable(
        "PMP_READ_BYTES",
        "8388608",
        "Bytes of event data one read of a store may return, at most (whole events, at least "
        "one): each `read_events` reply between services, each relay and projector batch.",
    ),
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
    Variable(
        "PMP_SECRET_KEY",
        "",
        "Signs CSRF tokens and encrypts MFA secrets; every replica needs the same one. "
        "Empty: a key generated once into PMP_DATA_DIR/secret.key (embedded mode only).",
    ),
    Variable(
        "PMP_PUBLIC_URL",
        "",
        "The address users reach the gateway at, for links in emails. Empty: the gateway's.",
    ),
    Variable(
        "PMP_SMTP_URL",
        "",
        "Outgoing mail: `smtp://[user:password@]host:port`, `smtps://` for TLS, "
        "`?starttls=1` to upgrade. "
        "Empty: each message is written to PMP_DATA_DIR/outbox/ as an .eml file.",
    ),
    Variable("PMP_MAIL_FROM", "CPMRS <no-reply@cpmrs.invalid>", "Sender of every email."),
    Variable("PMP_PASSWORD_MIN_LENGTH", "8", "Shortest password accepted."),
    Variable("PMP_PASSWORD_HISTORY", "12", "A new password may not equal any of this many."),
    Variable(
        "PMP_PASSWORD_MAX_AGE_DAYS",
        "90",
        "Days before a password must be changed: a default, then `role=days` overrides, "
        "e.g. `90,prescriber=180,pharmacist=180`.",
    ),
    Variable("PMP_TEMPORARY_PASSWORD_DAYS", "14", "Days a temporary password stays usable."),
    Variable("PMP_RESET_LINK_MINUTES", "60", "Minutes a password-reset link stays usable."),
    Variable("PMP_LOCKOUT_ATTEMPTS", "4", "Failed sign-ins in a row that lock an account."),
    Variable("PMP_LOCKOUT_MINUTES", "10", "Minutes a locked account stays locked."),
    Variable(
        "PMP_LOGIN_RATE_LIMIT",
        "20/300",
        "Sign-in attempts allowed per client address per window: `attempts/seconds`.",
    ),
    Variable(
        "PMP_MAIL_LIMIT_PER_RECIPIENT",
        "3/3600",
        "Emails anyone may cause to one address per window (sign-up, password reset, a "
        "ticket's confirmation link, an application's verification), per kind: "
        "`emails/seconds`. Asked again for any address, known or not, the answer is 429.",
    ),
    Variable(
        "PMP_MAIL_LIMIT_PER_CLIENT",
        "30/3600",
        "Emails one client address may cause per window, whatever the recipients: "
        "`emails/seconds`.",
    ),
    Variable("PMP_SESSION_IDLE_MINUTES", "15", "A session ends after this long without use."),
    Variable(
        "PMP_SESSION_MAX_HOURS", "8", "A session ends this long after sign-in, in use or not."
    ),
    Variable(
        "PMP_MFA_REQUIRED_ROLES",
        "administrator,auditor",
        "Roles that must use a one-time code (TOTP) at every sign-in.",
    ),
    Variable(
        "PMP_ARGON2",
        "t=2,m=19456,p=1",
        "argon2id cost: iterations, memory in KiB, lanes. Raising it re-hashes each "
        "password at its next sign-in.",
    ),
    Variable("PMP_VERIFICATION_LINK_HOURS", "48", "Hours an email-verification link works."),
    Variable(
        "PMP_APPLICATION_REMINDER_DAYS",
        "7",
        "Days without progress before an unfinished application gets a reminder email.",
    ),
    Variable(
        "PMP_APPLICATION_CLOSE_DAYS",
        "30",
        "Days without progress before an unfinished application is closed (rejected).",
    ),
    Variable(
        "PMP_RENEWAL_YEARS",
        "2",
        "Years a registration lasts until an administrator sets a group's own number.",
    ),
    Variable(
        "PMP_RENEWAL_REMINDER_DAYS", "60,30,7", "Days before the renewal date reminders go out."
    ),
    Variable(
        "PMP_REGISTRATION_SWEEP_SECONDS",
        "300",
        "Seconds between checks for due reminders, closures and renewal dates.",
    ),
    Variable(
        "PMP_AUDIT_HEADS_FILE",
        "",
        "Where the audit service appends the audit trail's head (time, entries, hash) at "
        "start-up and hourly, to keep outside the system; pmp audit verify checks every line. "
        "Empty: PMP_DATA_DIR/audit-heads.txt.",
    ),
    Variable(
        "PMP_AUDIT_HEADS_TO",
        "",
        "An address that also receives the day's first audit trail head by email. Empty: none.",
    ),
    Variable(
        "PMP_MISUSE_BASELINE_DAYS",
        "90",
        "Misuse signals: days of a user's own searches (and their peers') that show their "
        "usual hours and daily searches.",
    ),
    Variable(
        "PMP_MISUSE_HOURS_MIN_SEARCHES",
        "20",
        "Misuse signals: earlier searches in the baseline a user needs before their hours "
        "are judged.",
    ),
    Variable(
        "PMP_MISUSE_HOURS_COVERAGE",
        "90",
        "Misuse signals: a user's usual hours are the shortest band of the clock (through "
        "midnight if need be) holding this percentage of their searches.",
    ),
    Variable(
        "PMP_MISUSE_HOURS_MARGIN",
        "3",
        "Misuse signals: hours outside the usual band, at least, for a search to be signalled "
        "(below 12).",
    ),
    Variable(
        "PMP_MISUSE_DAILY_FACTOR",
        "3",
        "Misuse signals: a user's searches in a day are signalled when they reach this many "
        "times both their own usual day and their role's (and PMP_MISUSE_DAILY_MINIMUM).",
    ),
    Variable(
        "PMP_MISUSE_DAILY_MINIMUM", "30", "Misuse signals: the fewest searches in a day signalled."
    ),
    Variable(
        "PMP_MISUSE_REPEAT_SEARCHES",
        "4",
        "Misuse signals: searches of one patient within PMP_MISUSE_REPEAT_DAYS by a "
        "prescriber, pharmacist or delegate whom no dispensation to the patient names.",
    ),
    Variable(
        "PMP_MISUSE_REPEAT_DAYS",
        "30",
        "Misuse signals: the days within which PMP_MISUSE_REPEAT_SEARCHES are signalled.",
    ),
    Variable(
        "PMP_MISUSE_QUIET_DAYS",
        "30",
        "Misuse signals: a signal of one kind is raised at most once per user and patient "
        "(per day for daily searches) in this many days.",
    ),
)


@dataclass(frozen=True)
class Settings:
    amqp_uri: str
    database_url: str
    schema_prefix: str
    db_pool_size: int
    db_max_connections: int
    data_dir: Path
    gateway_host: str
    gateway_port: int
    log_level: str
    timezone: ZoneInfo
    rpc_timeout: float
    health_timeout: float
    projection_lag_limit: float
    relay_batch_size: int
    read_bytes: int
    poll_interval: float
    operator_token: str
    services: tuple[str, ...]
    secret_key: str
    public_url: str
    smtp_url: str
    mail_from: str
    password_min_length: int
    password_history: int
    password_max_age_days: int
    password_max_age_by_role: dict[str, int]
    temporary_password_days: int
    reset_link_minutes: int
    lockout_attempts: int
    lockout_minutes: int
    login_rate_limit: tuple[int, int]  # attempts, seconds
    mail_limit_per_recipient: tuple[int, int]  # emails, seconds
    mail_limit_per_client: tuple[int, int]  # emails, seconds
    session_idle_minutes: int
    session_max_hours: int
    mfa_required_roles: tuple[str, ...]
    argon2: dict[str, int]  # t, m, p
    verification_link_hours: int
    application_reminder_days: int
    application_close_days: int
    renewal_years: int
    renewal_reminder_days: tuple[int, ...]
    registration_sweep_seconds: float
    audit_heads_file: Path
    audit_heads_to: str
    misuse_baseline_days: int
    misuse_hours_min_searches: int
    misuse_hours_coverage: float  # percent
    misuse_hours_margin: float
    misuse_daily_factor: float
    misuse_daily_minimum: int
    misuse_repeat_searches: int
    misuse_repeat_days: int
    misuse_quiet_days: int

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

    def _int(name: str) -> int:
        return _number(int, name, get(name))

    max_age_default, max_age_by_role = _max_age(get("PMP_PASSWORD_MAX_AGE_DAYS"))
    if database_url and not database_url.startswith(("postgresql", "sqlite")):
        raise ConfigError("PMP_DATABASE_URL must be a postgresql+psycopg:// or sqlite:// URL")
    return Settings(
        amqp_uri=get("PMP_AMQP_URI"),
        database_url=database_url,
        schema_prefix=get("PMP_SCHEMA_PREFIX"),
        db_pool_size=_int("PMP_DB_POOL_SIZE"),
        db_max_connections=max(_int("PMP_DB_MAX_CONNECTIONS"), _int("PMP_DB_POOL_SIZE")),
        data_dir=Path(get("PMP_DATA_DIR")).resolve(),
        gateway_host=host or "127.0.0.1",
        gateway_port=_number(int, "PMP_GATEWAY_ADDRESS", port),
        log_level=level,
        timezone=timezone,
        rpc_timeout=_number(float, "PMP_RPC_TIMEOUT", get("PMP_RPC_TIMEOUT")),
        health_timeout=_number(float, "PMP_HEALTH_TIMEOUT", get("PMP_HEALTH_TIMEOUT")),
        projection_lag_limit=_number(
            float, "PMP_PROJECTION_LAG_LIMIT", get("PMP_PROJECTION_LAG_LIMIT")
        ),
        relay_batch_size=_number(int, "PMP_RELAY_BATCH_SIZE", get("PMP_RELAY_BATCH_SIZE")),
        read_bytes=_int("PMP_READ_BYTES"),
        poll_interval=_number(float, "PMP_POLL_INTERVAL", get("PMP_POLL_INTERVAL")),
        operator_token=get("PMP_OPERATOR_TOKEN"),
        services=_names(get("PMP_SERVICES")),
        secret_key=get("PMP_SECRET_KEY"),
        public_url=(get("PMP_PUBLIC_URL") or f"http://{host or '127.0.0.1'}:{port}").rstrip("/"),
        smtp_url=get("PMP_SMTP_URL"),
        mail_from=get("PMP_MAIL_FROM"),
        password_min_length=_number(int, "PMP_PASSWORD_MIN_LENGTH", get("PMP_PASSWORD_MIN_LENGTH")),
        password_history=_number(int, "PMP_PASSWORD_HISTORY", get("PMP_PASSWORD_HISTORY")),
        password_max_age_days=max_age_default,
        password_max_age_by_role=max_age_by_role,
        temporary_password_days=_number(
            int, "PMP_TEMPORARY_PASSWORD_DAYS", get("PMP_TEMPORARY_PASSWORD_DAYS")
        ),
        reset_link_minutes=_number(int, "PMP_RESET_LINK_MINUTES", get("PMP_RESET_LINK_MINUTES")),
        lockout_attempts=_number(int, "PMP_LOCKOUT_ATTEMPTS", get("PMP_LOCKOUT_ATTEMPTS")),
        lockout_minutes=_number(int, "PMP_LOCKOUT_MINUTES", get("PMP_LOCKOUT_MINUTES")),
        login_rate_limit=_rate("PMP_LOGIN_RATE_LIMIT", get("PMP_LOGIN_RATE_LIMIT")),
        mail_limit_per_recipient=_rate(
            "PMP_MAIL_LIMIT_PER_RECIPIENT", get("PMP_MAIL_LIMIT_PER_RECIPIENT")
        ),
        mail_limit_per_client=_rate("PMP_MAIL_LIMIT_PER_CLIENT", get("PMP_MAIL_LIMIT_PER_CLIENT")),
        session_idle_minutes=_number(
            int, "PMP_SESSION_IDLE_MINUTES", get("PMP_SESSION_IDLE_MINUTES")
        ),
        session_max_hours=_number(int, "PMP_SESSION_MAX_HOURS", get("PMP_SESSION_MAX_HOURS")),
        mfa_required_roles=_names(get("PMP_MFA_REQUIRED_ROLES")),
        argon2=_argon2(get("PMP_ARGON2")),
        verification_link_hours=_int("PMP_VERIFICATION_LINK_HOURS"),
        application_reminder_days=_int("PMP_APPLICATION_REMINDER_DAYS"),
        application_close_days=_int("PMP_APPLICATION_CLOSE_DAYS"),
        renewal_years=_int("PMP_RENEWAL_YEARS"),
        renewal_reminder_days=tuple(
            sorted(
                (
                    _number(int, "PMP_RENEWAL_REMINDER_DAYS", d)
                    for d in _names(get("PMP_RENEWAL_REMINDER_DAYS"))
                ),
                reverse=True,
            )
        ),
        registration_sweep_seconds=_number(
            float, "PMP_REGISTRATION_SWEEP_SECONDS", get("PMP_REGISTRATION_SWEEP_SECONDS")
        ),
        audit_heads_file=Path(
            get("PMP_AUDIT_HEADS_FILE") or Path(get("PMP_DATA_DIR")) / "audit-heads.txt"
        ).resolve(),
        audit_heads_to=get("PMP_AUDIT_HEADS_TO"),
        misuse_baseline_days=_int("PMP_MISUSE_BASELINE_DAYS"),
        misuse_hours_min_searches=_int("PMP_MISUSE_HOURS_MIN_SEARCHES"),
        misuse_hours_coverage=_bounded(
            "PMP_MISUSE_HOURS_COVERAGE",
            get("PMP_MISUSE_HOURS_COVERAGE"),
            100,
            "(percent)",
            inclusive=True,
        ),
        misuse_hours_margin=_bounded(
            "PMP_MISUSE_HOURS_MARGIN",
            get("PMP_MISUSE_HOURS_MARGIN"),
            12,
            "(hours)",
            inclusive=False,
        ),
        misuse_daily_factor=_number(
            float, "PMP_MISUSE_DAILY_FACTOR", get("PMP_MISUSE_DAILY_FACTOR")
        ),
        misuse_daily_minimum=_int("PMP_MISUSE_DAILY_MINIMUM"),
        misuse_repeat_searches=_repeats(get("PMP_MISUSE_REPEAT_SEARCHES")),
        misuse_repeat_days=_int("PMP_MISUSE_REPEAT_DAYS"),
        misuse_quiet_days=_int("PMP_MISUSE_QUIET_DAYS"),
    )


def _names(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _max_age(text: str) -> tuple[int, dict[str, int]]:
    """``90,prescriber=180``: a default, then per-role overrides."""
    default, by_role = None, {}
    for item in _names(text):
        role, sep, days = item.rpartition("=")
        value = _number(int, "PMP_PASSWORD_MAX_AGE_DAYS", days.strip())
        if sep:
            by_role[role.strip()] = value
        else:
            default = value
    if default is None:
        raise ConfigError(f"PMP_PASSWORD_MAX_AGE_DAYS needs a default number of days: {text!r}")
    return default, by_role


def _rate(name: str, text: str) -> tuple[int, int]:
    """``count/seconds``, both above zero."""
    count, _, seconds = text.partition("/")
    return _number(int, name, count.strip()), _number(int, name, seconds.strip() or "x")


def _argon2(text: str) -> dict[str, int]:
    values = {}
    for item in _names(text):
        key, _, value = item.partition("=")
        values[key.strip()] = _number(int, "PMP_ARGON2", value.strip())
    if set(values) != {"t", "m", "p"}:
        raise ConfigError(f"PMP_ARGON2 must name t, m and p, like t=2,m=19456,p=1: {text!r}")
    return values


def _bounded(name: str, text: str, top: float, unit: str, *, inclusive: bool) -> float:
    """A number above zero and up to ``top`` (``inclusive``) or below it."""
    value = _number(float, name, text)
    if value > top or (value == top and not inclusive):
        bound = "at most" if inclusive else "below"
        raise ConfigError(f"{name} must be {bound} {top:g} {unit}, not {text!r}")
    return value


def _repeats(text: str) -> int:
    value = _number(int, "PMP_MISUSE_REPEAT_SEARCHES", text)
    if value < 2:
        raise ConfigError(f"PMP_MISUSE_REPEAT_SEARCHES must be 2 or more, not {text!r}")
    return value


def _number(kind: type, name: str, text: str):
    try:
        value = kind(text)
    except ValueError:
        raise ConfigError(f"{name} must be a {kind.__name__} number, not {text!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero, not {text!r}")
    return value
