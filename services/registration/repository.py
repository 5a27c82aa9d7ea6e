"""Loading and saving registrations (one stream per account) and the renewal policy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from pmp.envelope import RecordedEvent
from pmp.eventstore import ConcurrencyError, EventStore
from pmp.service import Kernel
from services.registration.domain import Change, Registration, RegistrationPolicy

T = TypeVar("T")

RETRIES = 5
POLICY_STREAM = "renewal-policy"


class NotFound(LookupError):
    """No registration for this account."""


def registration_stream(account_id: str) -> str:
    return f"registration-{account_id}"


class Registrations:
    def __init__(self, kernel: Kernel):
        self.kernel = kernel

    def load(self, account_id: str) -> Registration:
        events = self.kernel.store.read_stream(registration_stream(account_id))
        return Registration.fold(account_id, events)

    def get(self, account_id: str) -> Registration:
        registration = self.load(account_id)
        if not registration.exists:
            raise NotFound("There is no application for this account.")
        return registration

    def history(self, account_id: str) -> list:
        return self.kernel.store.read_stream(registration_stream(account_id))

    def decide(
        self,
        account_id: str,
        decision: Callable[[Registration], list[Change]],
        must_exist: bool = True,
    ) -> Registration:
        """Load, decide, append; on a concurrent change decide again on the newer state.
        Returns the registration as the changes left it."""
        for attempt in range(RETRIES):
            registration = self.get(account_id) if must_exist else self.load(account_id)
            changes = decision(registration)
            if not changes:
                return registration
            try:
                self.kernel.append(registration_stream(account_id), registration.version, changes)
                return self.get(account_id)
            except ConcurrencyError:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def policy(self, base: RegistrationPolicy) -> RegistrationPolicy:
        """``base`` with the years administrators set per group (the latest per role)."""
        years = dict(base.years_by_role)
        for event in self.kernel.store.read_stream(POLICY_STREAM):
            years[event.data["role"]] = event.data["years"]
        return replace(base, years_by_role=years)

    def set_years(self, role: str, years: int) -> None:
        version = len(self.kernel.store.read_stream(POLICY_STREAM))
        self.kernel.append(
            POLICY_STREAM, version, [("RenewalPolicyChanged", {"role": role, "years": years})]
        )


def registration_at(store: EventStore, event: RecordedEvent) -> Registration:
    """The registration as it stood just after ``event``: what a read model or an email
    about that event must show, even when later events have changed it since."""
    account_id = event.stream.removeprefix("registration-")
    history = [e for e in store.read_stream(event.stream) if e.version <= event.version]
    return Registration.fold(account_id, history)
