"""What identity workers need besides the store: the policy, the hasher, the key for MFA
seeds and the mailer, built once per process from the settings."""

from __future__ import annotations

from nameko.extensions import DependencyProvider

from pmp.config import ConfigError, Settings, load_settings
from pmp.keys import SecretBox
from pmp.mail import Mailer
from services.identity.domain import IdentityPolicy
from services.identity.passwords import Hasher, PasswordRules
from services.identity.roles import Role


def policy_from(settings: Settings) -> IdentityPolicy:
    roles = {str(r) for r in Role}
    named = set(settings.password_max_age_by_role) | set(settings.mfa_required_roles)
    unknown = sorted(named - roles)
    if unknown:
        raise ConfigError(
            f"unknown role {unknown[0]!r} in PMP_PASSWORD_MAX_AGE_DAYS or "
            f"PMP_MFA_REQUIRED_ROLES; roles are {', '.join(sorted(roles))}"
        )
    return IdentityPolicy(
        password=PasswordRules(settings.password_min_length, settings.password_history),
        max_age_days=settings.password_max_age_days,
        max_age_by_role=dict(settings.password_max_age_by_role),
        temporary_password_days=settings.temporary_password_days,
        reset_link_minutes=settings.reset_link_minutes,
        lockout_attempts=settings.lockout_attempts,
        lockout_minutes=settings.lockout_minutes,
        session_idle_minutes=settings.session_idle_minutes,
        session_max_hours=settings.session_max_hours,
        mfa_required_roles=frozenset(settings.mfa_required_roles),
    )


class Tools:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.policy = policy_from(settings)
        cost = settings.argon2
        self.hasher = Hasher(time_cost=cost["t"], memory_kib=cost["m"], parallelism=cost["p"])
        self.seeds = SecretBox(settings, "identity.mfa-seed")
        self.letters = SecretBox(settings, "identity.credential-letter")  # the mail room's queue
        self.mailer = Mailer(settings)


class IdentityTools(DependencyProvider):
    def setup(self) -> None:
        self.tools = Tools(load_settings())

    def get_dependency(self, worker_ctx) -> Tools:
        return self.tools
