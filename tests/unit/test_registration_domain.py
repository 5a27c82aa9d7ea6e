"""The registration aggregate's rules, against a clock the test moves: the applicant's path to
submission, the supervisor's and the administrator's decisions, renewal dates and their
reminders, incomplete applications, renewals and profile changes.

Each decision's changes are checked against the event schemas, stored as JSON would store
them, and folded back from recorded-event-like values (``metadata.occurred_at`` from the
clock), exactly as the service folds its stream, so the next decision sees the recorded state.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.registration.domain import (
    APPROVED,
    AWAITING_SUPERVISOR,
    CLOSED_INCOMPLETE,
    DRAFT,
    INFORMATION_REQUESTED,
    REJECTED,
    SUBMITTED,
    AgreementOutdated,
    ApplicationIncomplete,
    ApplicationStateConflict,
    LinkInvalid,
    NoSuchDocument,
    Registration,
    RegistrationPolicy,
    renewal_date,
)
from services.registration.schemas import registration_events

EVENTS = registration_events()
NEW_YORK = ZoneInfo("America/New_York")
POLICY = RegistrationPolicy(timezone=NEW_YORK)
AGREEMENT = "2026-11"
T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # 10:00 in New York

FORM = {
    "first_name": "Pat",
    "last_name": "Okafor",
    "job": "Physician",
    "phone": "860-555-0100",
    "fax": "860-555-0101",
    "email": "pat@example.org",
    "address_line1": "1 Main St",
    "city": "Hartford",
    "state": "CT",
    "zip": "06103",
}

MISSING_EMAIL = "Verify your email address with the link we sent you."
MISSING_FORM = "Fill in the registration form."
MISSING_DOCUMENT = "Upload a copy of a government photo ID."
MISSING_AGREEMENT = "Read and accept the User Agreement."
MISSING_CONFIRMATION = "Check your registration form and save it, to confirm your details."


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Applicant:
    """One account's registration stream, with the clock and policy it is decided with."""

    def __init__(
        self,
        role: str = "prescriber",
        policy: RegistrationPolicy = POLICY,
        now: datetime = T0,
        start: bool = True,
    ) -> None:
        self.account_id = str(uuid.uuid4())
        self.role = role
        self.policy = policy
        self.clock = Clock(now)
        self.events: list[SimpleNamespace] = []
        if start:
            self.start()

    @property
    def reg(self) -> Registration:
        return Registration.fold(self.account_id, self.events)

    def record(self, changes):
        """Append ``changes``: validated and stored as JSON, as the store would."""
        EVENTS.validate_all(changes)
        for kind, data in changes:
            self.events.append(
                SimpleNamespace(
                    type=kind,
                    data=json.loads(json.dumps(data)),
                    version=len(self.events) + 1,
                    metadata=SimpleNamespace(occurred_at=self.clock()),
                )
            )
        return changes

    # -- the applicant ----------------------------------------------------------------------

    def start(self, role: str | None = None) -> list:
        return self.record(
            self.reg.start("pat@example.org", role or self.role, _id(), self.clock(), self.policy)
        )

    def verify(self) -> None:
        self.record(self.reg.verify_email(self.reg.verification_id, self.clock()))

    def fill_form(self, supervisor: dict | None = None, **changes: str) -> None:
        self.record(self.reg.save_form({**FORM, **changes}, supervisor))

    def attach(self, description: str = "Driver's licence") -> str:
        document_id = _id()
        document = {
            "document_id": document_id,
            "sha256": "a" * 64,
            "filename": "licence.pdf",
            "content_type": "application/pdf",
            "size": 2048,
            "description": description,
        }
        self.record(self.reg.attach_document(document))
        return document_id

    def accept(self) -> None:
        self.record(self.reg.accept_agreement(AGREEMENT, AGREEMENT, "192.0.2.7"))

    def submit(self) -> list:
        return self.record(self.reg.submit())

    def complete(self, supervisor: dict | None = None) -> list:
        """Every step, then submit."""
        self.verify()
        self.fill_form(supervisor)
        self.attach()
        self.accept()
        return self.submit()

    # -- the program --------------------------------------------------------------------------

    def approve(self) -> list:
        return self.record(self.reg.approve(self.clock(), self.policy))

    def approved(self) -> Registration:
        self.complete()
        self.approve()
        return self.reg

    def sweep(self, policy: RegistrationPolicy | None = None) -> list:
        return self.record(self.reg.due(self.clock(), policy or self.policy))


def _id() -> str:
    return str(uuid.uuid4())


def kinds(changes) -> list[str]:
    return [kind for kind, _ in changes]


def supervisor(account_id: str | None = None) -> dict:
    return {
        "account_id": account_id or _id(),
        "email": "dr.lee@example.org",
        "name": "Dana Lee",
        "role": "prescriber",
    }


def at_local(day: date, hour: int = 9) -> datetime:
    """``hour`` o'clock on ``day`` in New York, as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=NEW_YORK).astimezone(UTC)


# -- the applicant's path to submission -------------------------------------------------------


def test_a_new_application_lists_every_missing_step_in_words_until_each_is_done():
    you = Applicant()
    assert you.reg.status == DRAFT and you.reg.editable
    assert you.reg.missing() == [MISSING_EMAIL, MISSING_FORM, MISSING_DOCUMENT, MISSING_AGREEMENT]
    assert [s["done"] for s in you.reg.steps()] == [False, False, False, False]
    with pytest.raises(ApplicationIncomplete) as refused:
        you.reg.submit()
    for words in (MISSING_EMAIL, MISSING_FORM, MISSING_DOCUMENT, MISSING_AGREEMENT):
        assert words in str(refused.value)

    you.verify()
    assert you.reg.missing() == [MISSING_FORM, MISSING_DOCUMENT, MISSING_AGREEMENT]
    you.fill_form()
    assert you.reg.missing() == [MISSING_DOCUMENT, MISSING_AGREEMENT]
    you.attach()
    assert you.reg.missing() == [MISSING_AGREEMENT]
    you.accept()
    assert you.reg.missing() == []
    assert [s["done"] for s in you.reg.steps()] == [True, True, True, True]

    assert kinds(you.submit()) == ["ApplicationSubmitted"]
    assert you.reg.status == SUBMITTED
    assert you.reg.submitted_at == you.clock()


def test_an_application_cannot_be_submitted_before_the_email_address_is_verified():
    you = Applicant()
    you.fill_form()
    you.attach()
    you.accept()
    assert you.reg.missing() == [MISSING_EMAIL]
    with pytest.raises(ApplicationIncomplete, match="Verify your email address"):
        you.reg.submit()
    assert you.reg.status == DRAFT


def test_removing_the_only_document_makes_it_missing_again():
    you = Applicant()
    you.verify()
    you.fill_form()
    document_id = you.attach()
    you.accept()
    you.record(you.reg.remove_document(document_id))
    assert you.reg.missing() == [MISSING_DOCUMENT]
    with pytest.raises(NoSuchDocument, match="no such document"):
        you.reg.remove_document(document_id)


def test_an_outdated_agreement_is_refused():
    you = Applicant()
    with pytest.raises(AgreementOutdated):
        you.reg.accept_agreement("2025-01", AGREEMENT, "192.0.2.7")
    assert you.reg.agreement is None


def test_a_verification_link_works_once():
    you = Applicant()
    link = you.reg.verification_id
    you.record(you.reg.verify_email(link, you.clock()))
    assert you.reg.email_verified
    with pytest.raises(LinkInvalid, match="already used"):
        you.reg.verify_email(link, you.clock())


def test_a_resent_link_replaces_the_earlier_one():
    you = Applicant()
    first = you.reg.verification_id
    you.clock.advance(hours=1)
    you.record(you.reg.resend_verification(_id(), you.clock(), you.policy))
    second = you.reg.verification_id
    assert second != first
    assert you.reg.verification_sent_at == you.clock()

    with pytest.raises(LinkInvalid, match="replaced"):
        you.reg.verify_email(first, you.clock())
    with pytest.raises(LinkInvalid, match="replaced"):
        you.reg.verify_email(_id(), you.clock())  # an unknown link says the same
    you.record(you.reg.verify_email(second, you.clock()))
    assert you.reg.email_verified
    with pytest.raises(ApplicationStateConflict, match="already verified"):
        you.reg.resend_verification(_id(), you.clock(), you.policy)


@pytest.mark.parametrize("hours", [48, 24, 1])
def test_a_verification_link_expires_after_the_policys_hours(hours):
    you = Applicant(policy=RegistrationPolicy(verification_hours=hours, timezone=NEW_YORK))
    link = you.reg.verification_id
    you.clock.advance(hours=hours, seconds=-1)
    assert kinds(you.reg.verify_email(link, you.clock())) == ["EmailVerified"]
    you.clock.advance(seconds=1)
    with pytest.raises(LinkInvalid, match="expired"):
        you.reg.verify_email(link, you.clock())

    # A resend gives a fresh link with the full time again.
    you.record(you.reg.resend_verification(_id(), you.clock(), you.policy))
    you.clock.advance(hours=hours, seconds=-1)
    you.verify()
    assert you.reg.email_verified


# -- editing only while draft or information requested ----------------------------------------


def edits(you: Applicant) -> dict:
    """Every way of changing the application, each tried on the current state."""
    document_id = next(iter(you.reg.documents), _id())
    document = {
        "document_id": _id(),
        "sha256": "b" * 64,
        "filename": "more.pdf",
        "content_type": "application/pdf",
        "size": 10,
        "description": "",
    }
    return {
        "save_form": lambda r: r.save_form(FORM, None),
        "attach_document": lambda r: r.attach_document(document),
        "remove_document": lambda r: r.remove_document(document_id),
        "accept_agreement": lambda r: r.accept_agreement(AGREEMENT, AGREEMENT, "c"),
        "choose_role": lambda r: r.choose_role("pharmacist"),
        "submit": lambda r: r.submit(),
    }


def assert_not_editable(you: Applicant) -> None:
    assert not you.reg.editable
    for name, edit in edits(you).items():
        with pytest.raises(ApplicationStateConflict):
            edit(you.reg)
            pytest.fail(f"{name} was allowed in status {you.reg.status}")


def assert_editable(you: Applicant) -> None:
    assert you.reg.editable
    for name, edit in edits(you).items():
        if name != "submit":
            assert edit(you.reg), f"{name} refused in status {you.reg.status}"


def test_the_application_can_be_changed_only_while_draft_or_information_is_requested():
    you = Applicant()
    you.verify()
    you.fill_form()
    you.attach()
    you.accept()
    assert_editable(you)  # draft

    you.submit()
    assert_not_editable(you)  # submitted

    you.record(you.reg.request_information("Please upload a clearer copy of the licence."))
    assert you.reg.status == INFORMATION_REQUESTED
    assert_editable(you)

    you.submit()
    you.approve()
    assert you.reg.status == APPROVED
    assert_not_editable(you)


def test_a_rejected_or_closed_application_cannot_be_changed():
    rejected = Applicant()
    rejected.complete()
    rejected.record(rejected.reg.reject("The licence number does not match the board's."))
    assert rejected.reg.status == REJECTED
    assert rejected.reg.rejection_reason == "The licence number does not match the board's."
    assert_not_editable(rejected)

    closed = Applicant()
    closed.clock.advance(days=POLICY.close_days)
    assert kinds(closed.sweep()) == ["ApplicationClosedIncomplete"]
    assert_not_editable(closed)


def test_editing_before_starting_is_refused():
    nobody = Applicant(start=False)
    with pytest.raises(ApplicationStateConflict, match="Start an application first"):
        nobody.reg.save_form(FORM, None)


def test_choosing_another_role_clears_the_form_and_the_same_role_changes_nothing():
    you = Applicant()
    you.fill_form()
    assert you.reg.choose_role("prescriber") == []
    you.record(you.reg.choose_role("pharmacist"))
    assert you.reg.role == "pharmacist"
    assert you.reg.form == {}
    assert MISSING_FORM in you.reg.missing()


# -- delegates and their supervisors -----------------------------------------------------------


def delegate_awaiting(supervisor_id: str) -> Applicant:
    you = Applicant(role="delegate")
    changes = you.complete(supervisor(supervisor_id))
    assert changes == [
        ("ApplicationSubmitted", {"kind": "application", "supervisor_account_id": supervisor_id})
    ]
    return you


def test_a_delegate_who_names_a_supervisor_waits_for_that_supervisor():
    boss = _id()
    you = delegate_awaiting(boss)
    assert you.reg.status == AWAITING_SUPERVISOR
    assert you.reg.supervisor["decision"] == "pending"
    assert_not_editable(you)
    with pytest.raises(ApplicationStateConflict):  # not yet with the administrators
        you.reg.approve(you.clock(), you.policy)

    with pytest.raises(ApplicationStateConflict, match="Only the supervisor"):
        you.reg.supervisor_decides(_id(), True, "")

    you.record(you.reg.supervisor_decides(boss, True, ""))
    assert you.reg.status == SUBMITTED
    assert you.reg.supervisor["decision"] == "approved"
    with pytest.raises(ApplicationStateConflict, match="not waiting for you"):
        you.reg.supervisor_decides(boss, True, "")
    you.approve()
    assert you.reg.status == APPROVED


@pytest.mark.parametrize("reason", ["", "  ", "no"])
def test_a_supervisor_must_say_why_they_decline(reason):
    boss = _id()
    you = delegate_awaiting(boss)
    with pytest.raises(ApplicationStateConflict, match="Say why"):
        you.reg.supervisor_decides(boss, False, reason)
    assert you.reg.status == AWAITING_SUPERVISOR


def test_a_supervisor_who_declines_rejects_the_application_with_the_reason():
    boss = _id()
    you = delegate_awaiting(boss)
    you.record(you.reg.supervisor_decides(boss, False, "I do not know this person."))
    assert you.reg.status == REJECTED
    assert you.reg.rejection_reason == "I do not know this person."
    assert you.reg.supervisor["decision"] == "declined"
    assert you.reg.decided_at == you.clock()


def test_an_approved_delegate_resubmitting_after_a_request_goes_back_to_the_administrators():
    boss = _id()
    you = delegate_awaiting(boss)
    you.record(you.reg.supervisor_decides(boss, True, ""))
    you.record(you.reg.request_information("Please add your job title at the practice."))
    you.attach("Letter from the practice")
    assert you.submit() == [("ApplicationSubmitted", {"kind": "application"})]
    assert you.reg.status == SUBMITTED


# -- the administrator's decisions -------------------------------------------------------------


def test_a_request_for_information_reopens_the_application_and_it_can_be_resubmitted():
    you = Applicant()
    you.complete()
    message = "Please upload a copy of your DEA registration."
    you.record(you.reg.request_information(message))
    assert you.reg.status == INFORMATION_REQUESTED
    assert you.reg.information_request == message
    with pytest.raises(ApplicationStateConflict):
        you.reg.approve(you.clock(), you.policy)
    with pytest.raises(ApplicationStateConflict):
        you.reg.request_information("Again?")

    you.clock.advance(days=2)
    you.attach("DEA registration")
    you.submit()
    assert you.reg.status == SUBMITTED
    assert you.reg.information_request is None
    assert you.reg.submitted_at == you.clock()
    assert len(you.reg.documents) == 2
    you.approve()
    assert you.reg.status == APPROVED


def test_only_a_submitted_application_is_approved_or_rejected():
    you = Applicant()
    with pytest.raises(ApplicationStateConflict, match="not waiting for a decision"):
        you.reg.approve(you.clock(), you.policy)
    with pytest.raises(ApplicationStateConflict, match="not waiting for a decision"):
        you.reg.reject("No.")
    you.approved()
    with pytest.raises(ApplicationStateConflict, match="not waiting for a decision"):
        you.reg.approve(you.clock(), you.policy)


def test_approval_records_the_name_and_address_for_identity():
    you = Applicant()
    you.complete()
    ((kind, data),) = you.approve()
    assert kind == "ApplicationApproved"
    assert data["role"] == "prescriber"
    assert (data["first_name"], data["last_name"]) == ("Pat", "Okafor")
    assert data["address_lines"] == ["1 Main St", "Hartford, CT 06103"]
    assert you.reg.approved_at == you.clock()
    assert you.reg.approved_role == "prescriber"


# -- the renewal date -------------------------------------------------------------------------


def test_the_renewal_date_counts_from_the_approval_day_in_the_programs_time_zone():
    # 02:00 UTC on 2 March is still 1 March (21:00) in New York.
    approval = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    you = Applicant(now=approval - timedelta(days=1))
    you.complete()
    you.clock.now = approval
    ((_, data),) = you.approve()
    assert data["renewal_due"] == "2028-03-01"
    assert data["years"] == 2
    assert you.reg.renewal_due == date(2028, 3, 1)

    in_utc = Applicant(policy=RegistrationPolicy(), now=approval - timedelta(days=1))
    in_utc.complete()
    in_utc.clock.now = approval
    in_utc.approve()
    assert in_utc.reg.renewal_due == date(2028, 3, 2)


def test_a_registration_approved_on_29_february_renews_on_28_february():
    policy = RegistrationPolicy(years_by_role={"prescriber": 1}, timezone=NEW_YORK)
    you = Applicant(policy=policy, now=at_local(date(2028, 2, 28)))
    you.complete()
    you.clock.now = at_local(date(2028, 2, 29), hour=16)
    you.approve()
    assert you.reg.renewal_due == date(2029, 2, 28)

    assert renewal_date(date(2028, 2, 29), 1) == date(2029, 2, 28)
    assert renewal_date(date(2028, 2, 29), 4) == date(2032, 2, 29)  # a leap year again
    assert renewal_date(date(2027, 3, 1), 1) == date(2028, 3, 1)


@pytest.mark.parametrize("role, years", [("prescriber", 3), ("pharmacist", 1), ("delegate", 2)])
def test_the_renewal_years_can_differ_by_role(role, years):
    policy = RegistrationPolicy(
        years_by_role={"prescriber": 3, "pharmacist": 1}, default_years=2, timezone=NEW_YORK
    )
    you = Applicant(role=role, policy=policy)
    you.complete(supervisor(_id()) if role == "delegate" else None)
    if role == "delegate":
        you.record(you.reg.supervisor_decides(you.reg.supervisor["account_id"], True, ""))
    ((_, data),) = you.approve()
    assert data["years"] == years
    assert you.reg.renewal_due == date(2026 + years, 1, 5)


@given(
    approved_at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2089, 12, 31), timezones=st.just(UTC)
    ),
    years=st.integers(min_value=1, max_value=10),
)
def test_the_renewal_date_is_always_years_after_the_local_approval_date(approved_at, years):
    you = Applicant(policy=RegistrationPolicy(default_years=years, timezone=NEW_YORK))
    you.complete()
    you.clock.now = approved_at
    you.approve()
    approved_on = approved_at.astimezone(NEW_YORK).date()
    due = you.reg.renewal_due
    assert due.year - approved_on.year == years
    if (approved_on.month, approved_on.day) == (2, 29) and due.day != 29:
        assert (due.month, due.day) == (2, 28)
    else:
        assert (due.month, due.day) == (approved_on.month, approved_on.day)
    assert you.reg.new_renewal_date(you.policy) == []  # folding back gives the same date


def test_changing_a_groups_years_moves_the_renewal_date_from_the_approval_day():
    approval = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 1 March in New York
    you = Applicant(now=approval - timedelta(days=1))
    you.complete()
    you.clock.now = approval
    you.approve()
    assert you.reg.renewal_due == date(2028, 3, 1)

    you.clock.advance(days=100)
    assert you.reg.new_renewal_date(POLICY) == []  # years unchanged
    other_group = RegistrationPolicy(years_by_role={"pharmacist": 5}, timezone=NEW_YORK)
    assert you.reg.new_renewal_date(other_group) == []

    longer = RegistrationPolicy(years_by_role={"prescriber": 3}, timezone=NEW_YORK)
    changes = you.record(you.reg.new_renewal_date(longer))
    assert changes == [("RenewalDateSet", {"renewal_due": "2029-03-01", "years": 3})]
    assert you.reg.renewal_due == date(2029, 3, 1)
    assert you.reg.new_renewal_date(longer) == []  # asked again: nothing


def test_no_renewal_date_before_approval():
    you = Applicant()
    you.complete()
    longer = RegistrationPolicy(years_by_role={"prescriber": 3}, timezone=NEW_YORK)
    assert you.reg.new_renewal_date(longer) == []
    you.clock.advance(days=900)
    assert "RenewalReminderIssued" not in kinds(you.reg.due(you.clock(), POLICY))


# -- renewal reminders and the lapse --------------------------------------------------------


def sweep_daily(you: Applicant, until: date, hour: int = 9) -> list[tuple[date, str, dict]]:
    """Sweep twice each local day up to ``until`` (inclusive); what each day issued."""
    issued = []
    day = you.policy.local_date(you.clock()) + timedelta(days=1)
    while day <= until:
        you.clock.now = at_local(day, hour)
        first = you.sweep()
        assert you.sweep() == [], f"a second sweep on {day} issued something again"
        issued += [(day, kind, data) for kind, data in first]
        day += timedelta(days=1)
    return issued


def test_renewal_reminders_come_60_30_and_7_days_before_each_once_then_the_lapse_once():
    policy = RegistrationPolicy(default_years=1, timezone=NEW_YORK)
    you = Applicant(policy=policy)
    you.approved()
    due = you.reg.renewal_due
    assert due == date(2027, 1, 5)

    issued = sweep_daily(you, due + timedelta(days=5))
    assert [(day, kind) for day, kind, _ in issued] == [
        (due - timedelta(days=60), "RenewalReminderIssued"),
        (due - timedelta(days=30), "RenewalReminderIssued"),
        (due - timedelta(days=7), "RenewalReminderIssued"),
        (due, "RegistrationLapsed"),
    ]
    assert [data.get("days_before") for _, _, data in issued] == [60, 30, 7, None]
    assert {data["renewal_due"] for _, _, data in issued} == {"2027-01-05"}
    assert you.reg.status == APPROVED  # the status stays; the date in the past says it


def test_the_registration_lapses_at_local_midnight_of_the_renewal_date():
    you = Applicant()
    you.approved()
    due = you.reg.renewal_due  # 5 January, winter: New York is UTC-5
    you.clock.now = datetime(due.year, due.month, due.day, 4, 59, 59, tzinfo=UTC)
    assert "RegistrationLapsed" not in kinds(you.sweep())  # still the 4th in New York
    you.clock.now = datetime(due.year, due.month, due.day, 5, 0, tzinfo=UTC)
    assert kinds(you.sweep()) == ["RegistrationLapsed"]
    you.clock.advance(days=40)
    assert you.sweep() == []


def test_only_the_nearest_reminder_when_several_fall_due_at_once():
    you = Applicant()  # two years
    you.approved()
    due = you.reg.renewal_due
    you.clock.now = at_local(due - timedelta(days=5))  # the sweep did not run for months
    changes = you.sweep()
    assert changes == [
        (
            "RenewalReminderIssued",
            {"key": f"renewal:{due}:7", "days_before": 7, "renewal_due": due.isoformat()},
        )
    ]
    you.clock.advance(days=1)
    assert you.sweep() == []


def test_when_the_date_moves_close_only_the_nearest_reminder_for_the_new_date():
    you = Applicant()  # approved 2026-01-05 for two years: due 2028-01-05
    you.approved()
    you.clock.now = at_local(date(2027, 12, 1))
    assert [d["days_before"] for _, d in you.sweep()] == [60]  # for the old date, 35 days off

    shorter = RegistrationPolicy(years_by_role={"prescriber": 1}, timezone=NEW_YORK)
    you.clock.now = at_local(date(2026, 12, 31))  # the policy changes 5 days before 2027-01-05
    you.record(you.reg.new_renewal_date(shorter))
    assert you.reg.renewal_due == date(2027, 1, 5)
    you.policy = shorter
    changes = you.sweep()
    assert [(k, d["days_before"], d["renewal_due"]) for k, d in changes] == [
        ("RenewalReminderIssued", 7, "2027-01-05")
    ]
    assert you.sweep() == []
    you.clock.now = at_local(date(2027, 1, 5))
    assert kinds(you.sweep()) == ["RegistrationLapsed"]


def test_no_renewal_reminders_once_the_renewal_is_submitted():
    policy = RegistrationPolicy(default_years=1, timezone=NEW_YORK)
    you = Applicant(policy=policy)
    you.approved()
    due = you.reg.renewal_due
    you.clock.now = at_local(due - timedelta(days=61))
    you.record(you.reg.start_renewal())
    you.fill_form()
    you.accept()
    you.submit()
    assert you.reg.status == SUBMITTED and you.reg.kind == "renewal"
    issued = sweep_daily(you, due - timedelta(days=1))
    assert [kind for _, kind, _ in issued] == []


def test_a_renewal_started_but_not_submitted_still_gets_reminders():
    policy = RegistrationPolicy(default_years=1, timezone=NEW_YORK)
    you = Applicant(policy=policy)
    you.approved()
    due = you.reg.renewal_due
    you.clock.now = at_local(due - timedelta(days=61))
    you.record(you.reg.start_renewal())
    issued = sweep_daily(you, due - timedelta(days=30))
    assert [(day, data["days_before"]) for day, _, data in issued] == [
        (due - timedelta(days=60), 60),
        (due - timedelta(days=30), 30),
    ]


# -- incomplete applications ---------------------------------------------------------------


@pytest.mark.parametrize("reminder_days, close_days", [(7, 30), (3, 10)])
def test_an_idle_application_is_reminded_once_then_closed(reminder_days, close_days):
    policy = RegistrationPolicy(
        reminder_days=reminder_days, close_days=close_days, timezone=NEW_YORK
    )
    you = Applicant(policy=policy)
    you.verify()
    started = you.clock()

    you.clock.now = started + timedelta(days=reminder_days, seconds=-1)
    assert you.sweep() == []
    you.clock.now = started + timedelta(days=reminder_days)
    changes = you.sweep()
    assert kinds(changes) == ["IncompleteReminderIssued"]
    assert changes[0][1]["idle_days"] == reminder_days
    assert changes[0][1]["closes_on"] == (started + timedelta(days=close_days)).date().isoformat()
    assert you.sweep() == []
    you.clock.advance(days=1)
    assert you.sweep() == []

    you.clock.now = started + timedelta(days=close_days, seconds=-1)
    assert you.sweep() == []
    you.clock.now = started + timedelta(days=close_days)
    assert kinds(you.sweep()) == ["ApplicationClosedIncomplete"]
    assert you.reg.status == CLOSED_INCOMPLETE
    you.clock.advance(days=60)
    assert you.sweep() == []


def test_the_applicants_activity_starts_the_count_again():
    you = Applicant()  # reminder after 7 days, closed after 30
    started = you.clock()
    you.clock.now = started + timedelta(days=7)
    assert kinds(you.sweep()) == ["IncompleteReminderIssued"]

    you.clock.now = started + timedelta(days=8)
    you.fill_form()  # activity
    you.clock.now = started + timedelta(days=8 + 7, seconds=-1)
    assert you.sweep() == []
    you.clock.now = started + timedelta(days=8 + 7)
    assert kinds(you.sweep()) == ["IncompleteReminderIssued"]  # a new reminder
    assert you.sweep() == []

    you.clock.now = started + timedelta(days=31)  # 31 days since starting, 23 since saving
    assert you.sweep() == []
    you.clock.now = started + timedelta(days=8 + 30)
    assert kinds(you.sweep()) == ["ApplicationClosedIncomplete"]


def test_the_reminder_gives_the_closing_date_in_the_programs_time_zone():
    evening = datetime(2026, 1, 6, 2, 0, tzinfo=UTC)  # 21:00 on 5 January in New York
    you = Applicant(now=evening)
    you.clock.advance(days=7)
    ((_, reminder),) = you.sweep()
    closing = evening + timedelta(days=30)  # 21:00 on 4 February in New York
    you.clock.now = closing
    assert kinds(you.sweep()) == ["ApplicationClosedIncomplete"]
    assert reminder["closes_on"] == POLICY.local_date(closing).isoformat() == "2026-02-04"


def test_a_long_idle_application_is_closed_without_a_reminder_first():
    you = Applicant()
    you.clock.advance(days=45)
    assert kinds(you.sweep()) == ["ApplicationClosedIncomplete"]


def test_an_application_with_the_program_is_never_reminded_or_closed():
    you = Applicant()
    you.complete()
    for days in (7, 30, 90, 400):
        you.clock.now = T0 + timedelta(days=days)
        assert you.sweep() == []
    assert you.reg.status == SUBMITTED


def test_information_requested_and_left_idle_is_reminded_then_closed():
    you = Applicant()
    you.complete()
    you.clock.advance(days=3)
    asked = you.clock()
    you.record(you.reg.request_information("Please upload your state licence."))
    you.clock.now = asked + timedelta(days=7)
    assert kinds(you.sweep()) == ["IncompleteReminderIssued"]
    you.clock.now = asked + timedelta(days=30)
    assert kinds(you.sweep()) == ["ApplicationClosedIncomplete"]


# -- starting again -------------------------------------------------------------------------


def test_a_closed_applicant_can_start_again_from_nothing():
    you = Applicant()
    you.verify()
    you.fill_form()
    you.attach()
    you.clock.advance(days=30)
    you.sweep()
    assert you.reg.status == CLOSED_INCOMPLETE

    you.clock.advance(days=5)
    changes = you.start(role="pharmacist")
    assert kinds(changes) == ["ApplicationStarted", "VerificationEmailRequested"]
    again = you.reg
    assert (again.status, again.role, again.kind) == (DRAFT, "pharmacist", "application")
    assert not again.email_verified and again.form == {} and again.documents == {}
    assert again.started_at == you.clock()
    assert again.missing() == [MISSING_EMAIL, MISSING_FORM, MISSING_DOCUMENT, MISSING_AGREEMENT]
    you.complete()
    assert you.reg.status == SUBMITTED


def test_a_rejected_applicant_can_start_again():
    you = Applicant()
    you.complete()
    you.record(you.reg.reject("The licence is not in good standing."))
    you.start()
    assert you.reg.status == DRAFT
    assert you.reg.rejection_reason is None
    you.complete()
    you.approve()
    assert you.reg.status == APPROVED


@pytest.mark.parametrize("stage", ["draft", "submitted", "approved"])
def test_starting_again_is_refused_while_an_application_is_open_or_approved(stage):
    you = Applicant()
    if stage == "submitted":
        you.complete()
    if stage == "approved":
        you.approved()
    with pytest.raises(ApplicationStateConflict, match="already have an application"):
        you.reg.start("pat@example.org", "prescriber", _id(), you.clock(), you.policy)


# -- renewals -----------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["draft", "submitted", "information_requested"])
def test_only_an_approved_registration_can_be_renewed(stage):
    you = Applicant()
    if stage != "draft":
        you.complete()
    if stage == "information_requested":
        you.record(you.reg.request_information("Which hospital?"))
    with pytest.raises(ApplicationStateConflict, match="Only an approved registration"):
        you.reg.start_renewal()


def test_a_renewal_asks_to_confirm_the_details_and_the_agreement_again():
    you = Applicant()
    you.approved()
    you.clock.advance(days=650)
    you.record(you.reg.start_renewal())
    renewal = you.reg
    assert (renewal.status, renewal.kind) == (DRAFT, "renewal")
    assert renewal.agreement is None
    assert renewal.form == FORM  # kept, to check and save again
    assert renewal.missing() == [MISSING_CONFIRMATION, MISSING_AGREEMENT]  # no new documents
    assert [s["done"] for s in renewal.steps()] == [True, False, True, False]
    with pytest.raises(ApplicationIncomplete, match="confirm your details.*User Agreement"):
        renewal.submit()
    with pytest.raises(ApplicationStateConflict):
        renewal.start_renewal()  # once is enough
    with pytest.raises(ApplicationStateConflict, match="keeps the role"):
        renewal.choose_role("pharmacist")

    you.fill_form()
    you.accept()
    assert you.submit() == [("ApplicationSubmitted", {"kind": "renewal"})]
    assert you.reg.status == SUBMITTED


def test_starting_a_renewal_twice_says_the_renewal_is_under_way():
    you = Applicant()
    you.approved()
    you.record(you.reg.start_renewal())
    with pytest.raises(ApplicationStateConflict, match="under way"):
        you.reg.start_renewal()


def test_approving_a_renewal_moves_the_renewal_date():
    you = Applicant()
    you.approved()
    old_due = you.reg.renewal_due
    assert old_due == date(2028, 1, 5)
    you.clock.now = at_local(date(2027, 12, 20))
    you.record(you.reg.start_renewal())
    you.fill_form()
    you.accept()
    you.submit()
    ((_, data),) = you.approve()
    assert data["kind"] == "renewal"
    assert you.reg.status == APPROVED
    assert you.reg.renewal_due == date(2029, 12, 20)

    you.clock.now = at_local(old_due)
    assert you.sweep() == []  # the old date passes without a lapse
    you.record(you.reg.start_renewal())  # and the next renewal can start
    assert you.reg.kind == "renewal"


# -- profile changes ------------------------------------------------------------------------


def test_an_approved_profile_change_is_applied_to_the_form_one_at_a_time():
    you = Applicant()
    with pytest.raises(ApplicationStateConflict, match="approved registrations"):
        you.reg.request_profile_change({"last_name": "Okafor-Reyes"})
    you.approved()
    with pytest.raises(ApplicationStateConflict, match="at least one"):
        you.reg.request_profile_change({})
    with pytest.raises(ApplicationStateConflict, match="no pending profile change"):
        you.reg.decide_profile_change(True, "")

    you.record(you.reg.request_profile_change({"last_name": "Okafor-Reyes", "facility": "St Ann"}))
    assert you.reg.profile_change["changes"] == {"last_name": "Okafor-Reyes", "facility": "St Ann"}
    assert you.reg.form["last_name"] == "Okafor"  # not before it is approved
    with pytest.raises(ApplicationStateConflict, match="still pending"):
        you.reg.request_profile_change({"job": "Surgeon"})

    you.record(you.reg.decide_profile_change(True, ""))
    assert you.reg.profile_change is None
    assert you.reg.form == {**FORM, "last_name": "Okafor-Reyes", "facility": "St Ann"}
    assert you.reg.full_name == "Pat Okafor-Reyes"

    you.record(you.reg.request_profile_change({"job": "Surgeon"}))  # the next one may come
    you.record(you.reg.decide_profile_change(False, "Your licence still says Physician."))
    assert you.reg.profile_change is None
    assert you.reg.form["job"] == "Physician"
