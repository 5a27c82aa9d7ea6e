"""The ticket aggregate's rules against a clock the test moves: its states, who may do what,
the reopen period, the first response and the past-target flag, and the policy's checks.

Each decision's changes are checked against the event schemas, stored as JSON would store
them, and folded back, exactly as the service folds a ticket's stream.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from marshmallow import ValidationError

from services.helpdesk.business_hours import SupportCalendar
from services.helpdesk.policy import DEFAULT_TARGET_HOURS, HelpdeskPolicy, PolicySchema
from services.helpdesk.schemas import helpdesk_events
from services.helpdesk.ticket import (
    CLOSED,
    ESCALATED,
    OPEN,
    RESOLVED,
    Actor,
    NotYourTicket,
    Ticket,
    TicketRefused,
    TicketStateConflict,
    reference,
)

EVENTS = helpdesk_events()
NY = ZoneInfo("America/New_York")
CALENDAR = SupportCalendar(NY)
POLICY = HelpdeskPolicy()
MONDAY_9 = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)  # 9:00 in New York
USER = Actor(str(uuid.uuid4()), "Pat Okafor", staff=False)
OTHER = Actor(str(uuid.uuid4()), "Sam Other", staff=False)
STAFF = Actor(str(uuid.uuid4()), "Dana Desk", staff=True)
CONTACT = {"name": "Pat Okafor", "email": "Pat@Example.org", "phone": "860-555-0100"}


class Story:
    """One ticket's stream and the clock it is decided with."""

    def __init__(self, now: datetime = MONDAY_9, **opened) -> None:
        self.ticket_id = str(uuid.uuid4())
        self.now = now
        self.events: list[SimpleNamespace] = []
        args = {"account_id": USER.account_id, **opened}
        self.record(Ticket.open(self.ticket_id, "Cannot sign in", "Locked out.", CONTACT, **args))

    @property
    def ticket(self) -> Ticket:
        return Ticket.fold(self.ticket_id, self.events)

    def record(self, changes):
        EVENTS.validate_all(changes)
        for kind, data in changes:
            self.events.append(
                SimpleNamespace(
                    type=kind,
                    data=json.loads(json.dumps(data)),
                    version=len(self.events) + 1,
                    metadata=SimpleNamespace(occurred_at=self.now),
                )
            )
        return changes

    def do(self, method: str, *args, **kwargs):
        return self.record(getattr(self.ticket, method)(*args, **kwargs))

    def later(self, **delta) -> Story:
        self.now += timedelta(**delta)
        return self


def comment(story: Story, actor: Actor, body: str = "Hello", internal: bool = False):
    return story.do("comment", actor, str(uuid.uuid4()), body, internal)


def test_a_new_ticket():
    story = Story(access_problem="locked")
    ticket = story.ticket
    assert ticket.exists and ticket.status == OPEN and ticket.category is None
    assert ticket.contact_email == "pat@example.org"
    assert ticket.account_id == USER.account_id and ticket.access_problem == "locked"
    assert ticket.reference == reference(story.ticket_id) and ticket.reference.startswith("T-")
    assert len(ticket.reference) == 10


def test_opening_refuses_what_is_missing():
    with pytest.raises(TicketRefused, match="subject"):
        Ticket.open(str(uuid.uuid4()), " ", "x", CONTACT)
    with pytest.raises(TicketRefused, match="description"):
        Ticket.open(str(uuid.uuid4()), "Subject", "", CONTACT)
    with pytest.raises(TicketRefused, match="contact_email"):
        Ticket.open(str(uuid.uuid4()), "Subject", "x", {"name": "Pat"})
    with pytest.raises(TicketRefused, match="access_problem"):
        Ticket.open(str(uuid.uuid4()), "Subject", "x", CONTACT, access_problem="sad")


def test_the_whole_life_of_a_ticket():
    story = Story()
    story.do("categorise", STAFF, "high")
    story.do("assign", STAFF, STAFF.account_id, STAFF.name)
    comment(story, STAFF, "Looking into it", internal=True)
    story.do("escalate", STAFF, "vendor", "A defect in the report")
    assert story.ticket.status == ESCALATED and story.ticket.escalated_to == "vendor"
    story.do("escalate", STAFF, "state_it", "The network is down too")
    assert story.ticket.escalated_to == "state_it"
    story.do("resolve", STAFF, "The vendor fixed it")
    assert story.ticket.status == RESOLVED
    story.do("reopen", USER, "Still broken", story.now, POLICY)
    assert story.ticket.status == OPEN and story.ticket.escalated_to is None
    story.do("resolve", STAFF, "Fixed again")
    story.do("close", STAFF, "")
    ticket = story.ticket
    assert ticket.status == CLOSED and ticket.closed_at == story.now
    assert [e.type for e in story.events] == [
        "TicketOpened", "TicketCategorised", "TicketAssigned", "TicketCommented",
        "TicketEscalated", "TicketEscalated", "TicketResolved", "TicketReopened",
        "TicketResolved", "TicketClosed",
    ]  # fmt: skip


def test_staff_only_actions_are_refused_to_users():
    story = Story()
    for method, args in [
        ("categorise", ("critical",)),
        ("assign", (USER.account_id, "Pat")),
        ("escalate", ("vendor", "why")),
        ("resolve", ("done",)),
        ("close", ("done",)),
    ]:
        with pytest.raises(NotYourTicket, match="Only help-desk staff"):
            getattr(story.ticket, method)(USER, *args)
    with pytest.raises(TicketRefused, match="internal"):
        story.ticket.comment(USER, str(uuid.uuid4()), "secret", internal=True)
    with pytest.raises(NotYourTicket):
        story.ticket.account_action(USER, "unlock")


def test_a_user_never_acts_on_or_sees_another_users_ticket():
    story = Story()
    assert story.ticket.visible_to(USER) and story.ticket.visible_to(STAFF)
    assert not story.ticket.visible_to(OTHER)
    assert not story.ticket.visible_to(Actor(None))
    with pytest.raises(NotYourTicket, match="no such ticket"):
        story.ticket.comment(OTHER, str(uuid.uuid4()), "me too")
    story.do("categorise", STAFF, "low")
    story.do("resolve", STAFF, "Answered")
    with pytest.raises(NotYourTicket):
        story.ticket.reopen(OTHER, "not fixed", story.now, POLICY)


def test_users_never_see_internal_comments():
    story = Story()
    comment(story, STAFF, "The user sounds annoyed", internal=True)
    comment(story, STAFF, "We are on it")
    comment(story, USER, "Thanks")
    assert [c.body for c in story.ticket.comments_for(USER)] == ["We are on it", "Thanks"]
    assert len(story.ticket.comments_for(STAFF)) == 3


def test_the_first_response_is_a_reply_to_the_user_not_an_internal_note():
    story = Story()
    story.do("categorise", STAFF, "high")
    comment(story.later(hours=1), STAFF, "note", internal=True)
    comment(story.later(hours=1), USER, "any news?")
    assert story.ticket.first_response_at is None
    comment(story.later(hours=1), STAFF, "Here is a workaround")
    assert story.ticket.first_response_at == MONDAY_9 + timedelta(hours=3)
    comment(story.later(hours=1), STAFF, "And a fix")
    assert story.ticket.first_response_at == MONDAY_9 + timedelta(hours=3)


def test_a_resolution_counts_as_the_first_response():
    story = Story()
    story.do("categorise", STAFF, "low")
    story.later(hours=2).do("resolve", STAFF, "Answered by phone")
    assert story.ticket.first_response_at == MONDAY_9 + timedelta(hours=2)


def test_past_target_flag():
    # Opened Friday 16:00 New York; High target 4 support hours: due Monday 11:00.
    friday_16 = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    story = Story(now=friday_16)
    ticket = story.ticket
    assert ticket.deadline(CALENDAR, POLICY) is None  # not categorised: no target yet
    assert not ticket.past_target(CALENDAR, POLICY, friday_16 + timedelta(days=30))
    story.do("categorise", STAFF, "high")
    due = story.ticket.deadline(CALENDAR, POLICY)
    assert due == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # Monday 11:00 in New York
    assert not story.ticket.past_target(CALENDAR, POLICY, due)
    assert story.ticket.past_target(CALENDAR, POLICY, due + timedelta(minutes=1))
    # Critical counts every hour: due at 17:00 on Friday, and past it on Saturday.
    story.do("categorise", STAFF, "critical")
    assert story.ticket.deadline(CALENDAR, POLICY) == friday_16 + timedelta(hours=1)
    assert story.ticket.past_target(CALENDAR, POLICY, friday_16 + timedelta(hours=12))
    # A response in time keeps the flag down for good.
    comment(story.later(minutes=30), STAFF, "On it")
    assert not story.ticket.past_target(CALENDAR, POLICY, friday_16 + timedelta(days=9))


def test_a_late_response_stays_flagged():
    story = Story()
    story.do("categorise", STAFF, "critical")
    comment(story.later(hours=2), STAFF, "Sorry for the wait")
    assert story.ticket.past_target(CALENDAR, POLICY, story.now)


def test_the_reopen_period():
    story = Story()
    story.do("categorise", STAFF, "medium")
    story.do("resolve", STAFF, "Fixed")
    resolved = story.now
    assert story.ticket.reopen_until(POLICY) == resolved + timedelta(days=14)
    late = resolved + timedelta(days=14, minutes=1)
    with pytest.raises(TicketStateConflict, match="14 days.*Open a new ticket"):
        story.ticket.reopen(USER, "Broken again", late, POLICY)
    # Within the period the user may; staff may at any time before it is closed.
    story.ticket.reopen(USER, "Broken again", resolved + timedelta(days=14), POLICY)
    story.ticket.reopen(STAFF, "The user phoned", late, POLICY)
    short = HelpdeskPolicy(reopen_days=0)
    with pytest.raises(TicketStateConflict):
        story.ticket.reopen(USER, "Broken", resolved + timedelta(seconds=1), short)


def test_refused_transitions_say_why():
    story = Story()
    with pytest.raises(TicketStateConflict, match="Categorise the ticket before resolving"):
        story.ticket.resolve(STAFF, "done")
    with pytest.raises(TicketStateConflict, match="Only a resolved ticket can be reopened"):
        story.ticket.reopen(USER, "why", story.now, POLICY)
    with pytest.raises(TicketRefused, match="reason"):
        story.ticket.escalate(STAFF, "vendor", " ")
    with pytest.raises(TicketRefused, match="to:"):
        story.ticket.escalate(STAFF, "the moon", "why")
    with pytest.raises(TicketRefused, match="category"):
        story.ticket.categorise(STAFF, "urgent")
    with pytest.raises(TicketRefused, match="not resolved; say why"):
        story.ticket.close(STAFF, "")
    story.do("categorise", STAFF, "high")
    with pytest.raises(TicketStateConflict, match="already High"):
        story.ticket.categorise(STAFF, "high")
    story.do("escalate", STAFF, "vendor", "A defect")
    with pytest.raises(TicketStateConflict, match="already escalated to the system vendor"):
        story.ticket.escalate(STAFF, "vendor", "again")
    story.do("assign", STAFF, STAFF.account_id, STAFF.name)
    with pytest.raises(TicketStateConflict, match="already assigned to Dana Desk"):
        story.ticket.assign(STAFF, STAFF.account_id, STAFF.name)
    story.do("resolve", STAFF, "Fixed")
    with pytest.raises(TicketStateConflict, match="resolved; only an open or escalated"):
        story.ticket.escalate(STAFF, "state_it", "why")
    with pytest.raises(TicketStateConflict, match="resolved; only an open or escalated"):
        story.ticket.resolve(STAFF, "again")
    story.do("close", STAFF, "")
    for attempt in (
        lambda t: t.comment(STAFF, str(uuid.uuid4()), "hello"),
        lambda t: t.categorise(STAFF, "low"),
        lambda t: t.assign(STAFF, None, ""),
        lambda t: t.close(STAFF, "again"),
        lambda t: t.account_action(STAFF, "unlock"),
    ):
        with pytest.raises(TicketStateConflict, match="closed"):
            attempt(story.ticket)
    with pytest.raises(TicketStateConflict, match="closed and cannot be reopened"):
        story.ticket.reopen(STAFF, "why", story.now, POLICY)


def test_closing_an_unresolved_ticket_with_a_reason():
    story = Story()
    story.do("close", STAFF, "Duplicate of another ticket")
    assert story.ticket.status == CLOSED
    assert story.events[-1].data == {"reason": "Duplicate of another ticket", "was": "open"}


def test_account_actions_need_a_linked_account():
    story = Story(account_id=None)
    with pytest.raises(TicketStateConflict, match="not linked to an account"):
        story.ticket.account_action(STAFF, "unlock")
    linked = Story()
    linked.ticket.account_action(STAFF, "unlock")
    with pytest.raises(TicketRefused, match="no account action"):
        linked.ticket.account_action(STAFF, "delete")
    linked.record(
        linked.ticket.comment(STAFF, str(uuid.uuid4()), "Unlocked", True, account_action="unlock")
    )
    assert linked.ticket.comments[-1].account_action == "unlock"


def test_unassigning():
    story = Story()
    story.do("assign", STAFF, STAFF.account_id, STAFF.name)
    story.do("assign", STAFF, None, "ignored")
    assert story.ticket.assignee_id is None and story.ticket.assignee_name == ""


def test_the_policy_defaults_and_checks():
    assert POLICY.target_hours == DEFAULT_TARGET_HOURS
    assert POLICY.target("critical") == timedelta(hours=1)
    assert POLICY.reopen_days == 14 and POLICY.holidays == ()
    changed = HelpdeskPolicy.from_json(
        {**POLICY.to_json(), "holidays": ["2026-12-25", "2026-12-25", "2026-07-03"]}
    )
    assert changed.holidays == (date(2026, 7, 3), date(2026, 12, 25))
    assert HelpdeskPolicy.from_json(changed.to_json()) == changed
    with pytest.raises(ValidationError, match="High must not be longer than Medium"):
        PolicySchema().load(
            {**POLICY.to_json(), "target_hours": {**DEFAULT_TARGET_HOURS, "high": 10}}
        )
    with pytest.raises(ValidationError):
        PolicySchema().load({**POLICY.to_json(), "reopen_days": -1})
