"""Loading and saving tickets (one stream ``ticket-<id>`` each) and the help desk's policy."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from pmp.envelope import RecordedEvent
from pmp.eventstore import ConcurrencyError, EventStore
from pmp.service import Kernel
from services.helpdesk.business_hours import SupportCalendar
from services.helpdesk.policy import POLICY_STREAM, HelpdeskPolicy, policy_in_force
from services.helpdesk.ticket import Change, Ticket

RETRIES = 5


class NotFound(LookupError):
    """No such ticket (or, for a user, none of theirs)."""


def ticket_stream(ticket_id: str) -> str:
    return f"ticket-{ticket_id}"


class Tickets:
    def __init__(self, kernel: Kernel):
        self.kernel = kernel

    def load(self, ticket_id: str) -> Ticket:
        try:
            uuid.UUID(str(ticket_id))
        except ValueError:
            raise NotFound("There is no such ticket.") from None
        return Ticket.fold(ticket_id, self.kernel.store.read_stream(ticket_stream(ticket_id)))

    def get(self, ticket_id: str) -> Ticket:
        ticket = self.load(ticket_id)
        if not ticket.exists:
            raise NotFound("There is no such ticket.")
        return ticket

    def history(self, ticket_id: str) -> list[RecordedEvent]:
        return self.kernel.store.read_stream(ticket_stream(ticket_id))

    def open(self, ticket_id: str, changes: list[Change]) -> Ticket:
        self.kernel.append(ticket_stream(ticket_id), 0, changes)
        return self.get(ticket_id)

    def decide(self, ticket_id: str, decision: Callable[[Ticket], list[Change]]) -> Ticket:
        """Load, decide, append; on a concurrent change decide again on the newer state."""
        for attempt in range(RETRIES):
            ticket = self.get(ticket_id)
            changes = decision(ticket)
            if not changes:  # nothing to record (a confirmation link used again)
                return ticket
            try:
                self.kernel.append(ticket_stream(ticket_id), ticket.version, changes)
                return self.get(ticket_id)
            except ConcurrencyError:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def policy(self) -> HelpdeskPolicy:
        return policy_in_force(self.kernel.store)

    def set_policy(self, policy: HelpdeskPolicy) -> None:
        self.kernel.append(
            POLICY_STREAM, EventStore.ANY, [("HelpdeskPolicyChanged", {"policy": policy.to_json()})]
        )

    def calendar(self, policy: HelpdeskPolicy) -> SupportCalendar:
        return SupportCalendar(self.kernel.settings.timezone, frozenset(policy.holidays))


def ticket_at(store: EventStore, event: RecordedEvent) -> Ticket:
    """The ticket as it stood just after ``event``: what a read model or an email about that
    event must show, even when later events have changed it since."""
    ticket_id = event.stream.removeprefix("ticket-")
    history = [e for e in store.read_stream(event.stream) if e.version <= event.version]
    return Ticket.fold(ticket_id, history)
