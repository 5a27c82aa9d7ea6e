"""What registration workers need besides the store: the policy from settings, the
document store and a client for identity, built once per process."""

from __future__ import annotations

from nameko.extensions import DependencyProvider

from pmp.config import Settings, load_settings
from services.registration.domain import RegistrationPolicy


def policy_from(settings: Settings) -> RegistrationPolicy:
    return RegistrationPolicy(
        verification_hours=settings.verification_link_hours,
        reminder_days=settings.application_reminder_days,
        close_days=settings.application_close_days,
        renewal_reminder_days=settings.renewal_reminder_days,
        default_years=settings.renewal_years,
        timezone=settings.timezone,
    )


class Tools:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.policy = policy_from(settings)


class RegistrationTools(DependencyProvider):
    def setup(self) -> None:
        self.tools = Tools(load_settings())

    def get_dependency(self, worker_ctx) -> Tools:
        return self.tools
