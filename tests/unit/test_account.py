"""The account aggregate's rules, against a clock the test moves: lockout, expiry, temporary
passwords, the steps after sign-in, one-time codes, reset links and administrators' actions.

Each decision's changes are checked against the event schemas and then applied, exactly as
folding the stored events would, so the state the next decision sees is the recorded one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.identity import mfa
from services.identity.directory import AccountQueries
from services.identity.domain import (
    ACTIVE,
    CHANGE_PASSWORD,
    ENROL_MFA,
    MFA,
    READY,
    REMOVED,
    REVOKED,
    SECURITY_QUESTIONS,
    SUSPENDED,
    Account,
    AccountStateConflict,
    CodeRejected,
    IdentityPolicy,
    new_account,
    new_token,
    recovery_codes,
    signed_up_account,
)
from services.identity.passwords import Hasher, PasswordRejected
from services.identity.roles import PATIENT_DATA, Permission, permissions_of
from services.identity.schemas import identity_events

HASHER = Hasher(1, 1024, 1)
EVENTS = identity_events()
TEMPORARY = "Kp7Q-xR4m#Tz9a"
PASSWORD = "Osprey-Quarry-Velvet-58!"
NEXT_PASSWORD = "Copper-Willow-Anvil-83?"
QUESTIONS = list(SECURITY_QUESTIONS[:3])
ANSWERS = ["Rex", "Hartford", "Volvo"]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Subject:
    """An account and what it is decided with: the clock, the policy, the hasher."""

    def __init__(self, role: str = "prescriber", policy: IdentityPolicy | None = None):
        self.clock = Clock()
        self.policy = policy or IdentityPolicy()
        self.account = Account(str(uuid.uuid4()))
        self.record(
            new_account(
                self.account.account_id, "pat@example.org", "Pat", "Okafor", role, ["1 Main St"]
            )
        )
        self.issue_temporary(TEMPORARY)

    def record(self, changes):
        """Append ``changes``: validated as the store would, then folded into the state."""
        EVENTS.validate_all(changes)
        for kind, data in changes:
            self.account.apply(kind, data, self.clock())
            self.account.version += 1
        return changes

    def issue_temporary(self, password: str) -> None:
        self.record(
            self.account.issue_temporary_password(
                password, self.clock(), self.policy, HASHER, "account created"
            )
        )

    def sign_in(self, password: str) -> str | None:
        changes, session_id = self.account.sign_in(
            password, self.clock(), self.policy, HASHER, "192.0.2.7"
        )
        self.record(changes)
        return session_id

    def stage(self, session_id: str) -> str:
        return self.account.stage(self.account.sessions[session_id], self.clock(), self.policy)

    def change_password(self, current: str, new: str) -> str:
        """As the service does it: every session ends and a fresh one starts (keeping MFA)."""
        changes = self.account.change_password(current, new, self.clock(), self.policy, HASHER)
        started, session_id = self.account.start_session(self.clock(), self.policy)
        changes.append(started)
        if self.account.mfa_secret:
            changes.append(self.account.mfa_passed(session_id, self.account.last_totp_step))
        self.record(changes)
        return session_id

    def established(self) -> str:
        """First sign-in with the letter's password, then the forced change: an open session."""
        session_id = self.sign_in(TEMPORARY)
        assert session_id and self.stage(session_id) == CHANGE_PASSWORD
        return self.change_password(TEMPORARY, PASSWORD)

    def enrol(self) -> tuple[str, list[str]]:
        secret, codes = mfa.new_secret(), recovery_codes()
        self.record(self.account.enrol_mfa("sealed:" + secret, codes))
        return secret, codes

    def pass_mfa(self, session_id: str, code: str, secret: str | None) -> bool:
        step = mfa.matching_step(secret, code, self.clock()) if secret else None
        changes = self.record(
            self.account.pass_mfa(session_id, code, step, self.clock(), self.policy)
        )
        return changes[0][0] == "MfaChallengePassed"

    def set_questions(self) -> None:
        self.record(self.account.set_security_questions(QUESTIONS, ANSWERS, HASHER))


def kinds(changes) -> list[str]:
    return [kind for kind, _ in changes]


# -- lockout ------------------------------------------------------------------------------------


@pytest.mark.parametrize("attempts, minutes", [(4, 10), (2, 30)])
def test_repeated_wrong_passwords_lock_the_account_until_the_clock_moves_on(attempts, minutes):
    you = Subject(policy=IdentityPolicy(lockout_attempts=attempts, lockout_minutes=minutes))
    you.established()
    for _ in range(attempts - 1):
        assert you.sign_in("wrong password") is None
        assert not you.account.locked(you.clock())
    assert you.sign_in("wrong password") is None
    assert you.account.locked(you.clock())

    assert you.sign_in(PASSWORD) is None  # the right password does not help while locked
    you.clock.advance(minutes=minutes, seconds=-1)
    assert you.sign_in(PASSWORD) is None
    you.clock.advance(seconds=1)
    session_id = you.sign_in(PASSWORD)
    assert session_id and you.stage(session_id) == READY


def test_a_locked_refusal_does_not_tell_the_caller_it_is_locked():
    you = Subject()
    you.established()
    for _ in range(4):
        you.sign_in("wrong password")
    changes, session_id = you.account.sign_in(PASSWORD, you.clock(), you.policy, HASHER, "c")
    assert session_id is None
    assert kinds(changes) == ["LoginFailed"]  # recorded for the audit, not extending the lock


def test_a_session_opened_before_a_lock_works_again_only_once_the_lock_ends():
    you = Subject()
    session_id = you.established()
    for _ in range(4):
        you.sign_in("wrong password")  # someone else is guessing the password
    assert you.account.session_problem(session_id, you.clock()) == "locked"
    you.record(you.account.unlock("caller verified by phone", you.clock()))
    assert you.account.session_problem(session_id, you.clock()) is None


def test_an_administrator_unlocks_a_locked_account_at_once():
    you = Subject()
    you.established()
    for _ in range(4):
        you.sign_in("wrong password")
    assert you.sign_in(PASSWORD) is None
    you.record(you.account.unlock("caller verified by phone", you.clock()))
    assert you.sign_in(PASSWORD)
    with pytest.raises(AccountStateConflict, match="not locked"):
        you.account.unlock("again", you.clock())


def test_after_a_lock_runs_out_the_user_gets_the_full_number_of_attempts_again():
    you = Subject()
    you.established()
    for _ in range(4):
        you.sign_in("wrong password")
    you.clock.advance(minutes=10)
    for _ in range(3):
        assert you.sign_in("wrong password") is None
        assert not you.account.locked(you.clock())
    assert you.sign_in(PASSWORD)


def test_a_successful_sign_in_starts_the_failure_count_again():
    you = Subject()
    you.established()
    for _ in range(3):
        you.sign_in("wrong password")
    assert you.sign_in(PASSWORD)
    for _ in range(3):
        you.sign_in("wrong password")
    assert not you.account.locked(you.clock())


# -- expiry and temporary passwords -----------------------------------------------------------


def test_a_password_older_than_the_maximum_age_must_be_changed_first():
    you = Subject()
    you.established()
    you.clock.advance(days=90, seconds=-1)
    assert you.stage(you.sign_in(PASSWORD)) == READY
    you.clock.advance(seconds=1)
    session_id = you.sign_in(PASSWORD)
    assert you.stage(session_id) == CHANGE_PASSWORD
    assert you.stage(you.change_password(PASSWORD, NEXT_PASSWORD)) == READY


@pytest.mark.parametrize("role, days", [("prescriber", 180), ("pharmacist", 30), ("delegate", 90)])
def test_the_maximum_age_can_differ_by_role(role, days):
    policy = IdentityPolicy(max_age_days=90, max_age_by_role={"prescriber": 180, "pharmacist": 30})
    you = Subject(role, policy)
    you.established()
    you.clock.advance(days=days, seconds=-1)
    assert you.stage(you.sign_in(PASSWORD)) == READY
    you.clock.advance(seconds=1)
    assert you.stage(you.sign_in(PASSWORD)) == CHANGE_PASSWORD


def test_a_temporary_password_works_for_one_sign_in_only():
    you = Subject()
    first = you.sign_in(TEMPORARY)
    assert first and you.stage(first) == CHANGE_PASSWORD
    you.record(you.account.end_session(first, "signed_out"))
    assert you.sign_in(TEMPORARY) is None


def test_a_temporary_password_expires_after_fourteen_days():
    you = Subject()
    you.clock.advance(days=14, seconds=-1)
    assert you.sign_in(TEMPORARY)

    late = Subject()
    late.clock.advance(days=14)
    assert late.sign_in(TEMPORARY) is None
    late.issue_temporary("Vw3N-cq8P%Lr2s")  # the help desk sends a new letter
    assert late.sign_in("Vw3N-cq8P%Lr2s")


def test_a_new_temporary_password_ends_every_session_and_clears_a_lock():
    you = Subject()
    session_id = you.established()
    for _ in range(4):
        you.sign_in("wrong password")
    you.issue_temporary("Vw3N-cq8P%Lr2s")
    assert session_id not in you.account.sessions
    assert you.sign_in(PASSWORD) is None  # the old password is gone
    assert you.sign_in("Vw3N-cq8P%Lr2s")


def test_a_changed_password_is_refused_if_it_breaks_the_rules_and_nothing_changes():
    you = Subject()
    session_id = you.sign_in(TEMPORARY)
    with pytest.raises(PasswordRejected):
        you.account.change_password(TEMPORARY, "password", you.clock(), you.policy, HASHER)
    assert you.stage(session_id) == CHANGE_PASSWORD


# -- the steps after signing in -----------------------------------------------------------------


def test_an_administrator_changes_the_letters_password_then_enrols_then_is_ready():
    you = Subject("administrator")
    session_id = you.sign_in(TEMPORARY)
    assert you.stage(session_id) == CHANGE_PASSWORD
    session_id = you.change_password(TEMPORARY, PASSWORD)
    assert you.stage(session_id) == ENROL_MFA
    secret, _ = you.enrol()
    you.record([you.account.mfa_passed(session_id, 1)])  # enrolment proves a code
    assert you.stage(session_id) == READY

    you.clock.advance(minutes=5)
    session_id = you.sign_in(PASSWORD)
    assert you.stage(session_id) == MFA
    assert you.pass_mfa(session_id, pyotp.TOTP(secret).at(you.clock()), secret)


def test_the_code_comes_before_an_expired_password_which_comes_before_anything_else():
    you = Subject("auditor")
    you.established()
    secret, _ = you.enrol()
    you.clock.advance(days=91)
    session_id = you.sign_in(PASSWORD)
    assert you.stage(session_id) == MFA
    assert you.pass_mfa(session_id, pyotp.TOTP(secret).at(you.clock()), secret)
    assert you.stage(session_id) == CHANGE_PASSWORD
    assert you.stage(you.change_password(PASSWORD, NEXT_PASSWORD)) == READY


@pytest.mark.parametrize("role", ["prescriber", "pharmacist", "law_enforcement", "helpdesk"])
def test_roles_without_required_mfa_are_ready_after_changing_the_letters_password(role):
    you = Subject(role)
    assert you.stage(you.established()) == READY


def test_mfa_can_be_required_of_any_role_by_configuration():
    you = Subject("prescriber", IdentityPolicy(mfa_required_roles=frozenset({"prescriber"})))
    assert you.stage(you.established()) == ENROL_MFA


# -- one-time codes ------------------------------------------------------------------------------


def test_a_totp_code_is_accepted_once_and_an_older_one_never_after_it():
    you = Subject()
    you.established()
    secret, _ = you.enrol()
    code = pyotp.TOTP(secret).at(you.clock())
    first = you.sign_in(PASSWORD)
    assert you.pass_mfa(first, code, secret)
    assert you.stage(first) == READY

    second = you.sign_in(PASSWORD)
    assert not you.pass_mfa(second, code, secret)  # replayed within its 30 seconds
    assert you.stage(second) == MFA
    previous = pyotp.TOTP(secret).at(you.clock() - timedelta(seconds=30))
    assert not you.pass_mfa(second, previous, secret)  # still within drift, but older
    you.clock.advance(seconds=30)
    assert you.pass_mfa(second, pyotp.TOTP(secret).at(you.clock()), secret)
    assert you.stage(second) == READY


def test_wrong_codes_count_towards_the_lockout():
    you = Subject()
    you.established()
    secret, _ = you.enrol()
    session_id = you.sign_in(PASSWORD)
    for _ in range(4):
        assert not you.pass_mfa(session_id, "000000", secret)
    with pytest.raises(CodeRejected):
        you.pass_mfa(session_id, pyotp.TOTP(secret).at(you.clock()), secret)
    assert you.sign_in(PASSWORD) is None


def test_a_recovery_code_works_once_however_it_is_typed():
    you = Subject()
    you.established()
    secret, codes = you.enrol()
    first = you.sign_in(PASSWORD)
    assert you.pass_mfa(first, " " + codes[0].upper().replace("-", " ") + " ", None)
    assert you.stage(first) == READY

    second = you.sign_in(PASSWORD)
    assert not you.pass_mfa(second, codes[0], None)
    assert you.pass_mfa(second, codes[1], None)
    assert len(you.account.recovery_codes) == len(codes) - 2


def test_resetting_mfa_ends_sessions_and_asks_to_enrol_again():
    you = Subject("administrator")
    you.sign_in(TEMPORARY)
    session_id = you.change_password(TEMPORARY, PASSWORD)
    you.enrol()
    you.record(you.account.reset_mfa("lost phone"))
    assert session_id not in you.account.sessions
    assert you.stage(you.sign_in(PASSWORD)) == ENROL_MFA
    with pytest.raises(AccountStateConflict):
        you.account.reset_mfa("again")


# -- sessions and administrators' actions ---------------------------------------------------------


@pytest.mark.parametrize("action", ["suspend", "revoke", "remove"])
def test_suspending_revoking_or_removing_ends_every_session_and_refuses_sign_in(action):
    you = Subject()
    sessions = {you.established(), you.sign_in(PASSWORD), you.sign_in(PASSWORD)}
    assert set(you.account.sessions) == sessions
    changes = you.record(getattr(you.account, action)("left the practice"))
    ended = {data["session_id"] for kind, data in changes if kind == "SessionEnded"}
    assert ended == sessions and you.account.sessions == {}
    assert you.sign_in(PASSWORD) is None


def test_only_a_suspended_account_can_be_reinstated():
    you = Subject()
    you.established()
    with pytest.raises(AccountStateConflict):
        you.account.reinstate("not suspended")
    you.record(you.account.suspend("investigation"))
    assert you.account.status == SUSPENDED
    you.record(you.account.reinstate("investigation closed"))
    assert you.account.status == ACTIVE and you.sign_in(PASSWORD)

    you.record(you.account.revoke("licence withdrawn"))
    with pytest.raises(AccountStateConflict):
        you.account.reinstate("try")
    assert you.account.status == REVOKED


def test_a_session_past_its_maximum_age_is_refused():
    you = Subject(policy=IdentityPolicy(session_max_hours=8))
    session_id = you.established()
    you.clock.advance(hours=8, seconds=-1)
    assert you.account.session_problem(session_id, you.clock()) is None
    you.clock.advance(seconds=1)
    assert you.account.session_problem(session_id, you.clock()) == "expired"


def test_changing_the_role_ends_every_session():
    you = Subject()
    session_id = you.established()
    changes = you.record(you.account.change_role("pharmacist", "moved to the pharmacy"))
    assert "SessionEnded" in kinds(changes)
    assert session_id not in you.account.sessions and you.account.role == "pharmacist"
    with pytest.raises(AccountStateConflict, match="already has the role"):
        you.account.change_role("pharmacist", "again")


def test_changing_the_password_ends_every_other_session():
    you = Subject()
    old = {you.established(), you.sign_in(PASSWORD)}
    fresh = you.change_password(PASSWORD, NEXT_PASSWORD)
    assert set(you.account.sessions) == {fresh} and not old & set(you.account.sessions)


def make_removed() -> Subject:
    you = Subject("administrator")
    you.sign_in(TEMPORARY)
    you.change_password(TEMPORARY, PASSWORD)
    you.enrol()
    you.sign_in("wrong password")  # a failure on record, so "unlock" has something to undo
    you.record(you.account.remove("duplicate account"))
    assert you.account.status == REMOVED
    return you


ADMIN_ACTIONS = {
    "suspend": lambda a, now: a.suspend("reason"),
    "reinstate": lambda a, now: a.reinstate("reason"),
    "revoke": lambda a, now: a.revoke("reason"),
    "remove": lambda a, now: a.remove("reason"),
    "unlock": lambda a, now: a.unlock("reason", now),
    "reset_mfa": lambda a, now: a.reset_mfa("reason"),
    "change_role": lambda a, now: a.change_role("auditor", "reason"),
    "temporary_password": lambda a, now: a.issue_temporary_password(
        "Vw3N-cq8P%Lr2s", now, IdentityPolicy(), HASHER, "reason"
    ),
}


@pytest.mark.parametrize("action", ADMIN_ACTIONS)
def test_every_administrators_action_on_a_removed_account_is_a_conflict(action):
    you = make_removed()
    with pytest.raises(AccountStateConflict):
        ADMIN_ACTIONS[action](you.account, you.clock())


# -- password reset -------------------------------------------------------------------------------


def test_a_reset_link_with_the_right_answers_sets_a_new_password_once():
    you = Subject()
    session_id = you.established()
    you.set_questions()
    link = new_token()
    you.record(you.account.request_reset(link, you.clock(), you.policy))
    you.clock.advance(minutes=59)
    assert you.account.reset_link_valid(link, you.clock())
    answers = ["  rex ", "HARTFORD.", "volvo!"]
    changes = you.record(
        you.account.complete_reset(link, answers, NEXT_PASSWORD, you.clock(), you.policy, HASHER)
    )
    assert kinds(changes)[0] == "PasswordChanged" and changes[0][1]["via"] == "reset"
    assert session_id not in you.account.sessions
    assert you.sign_in(NEXT_PASSWORD) and you.sign_in(PASSWORD) is None

    assert not you.account.reset_link_valid(link, you.clock())
    with pytest.raises(CodeRejected, match="expired or was already used"):
        you.account.complete_reset(
            link, ANSWERS, "Another-Fine-Pass-12#", you.clock(), you.policy, HASHER
        )


def test_a_reset_link_expires_after_its_minutes():
    you = Subject(policy=IdentityPolicy(reset_link_minutes=60))
    you.established()
    you.set_questions()
    link = new_token()
    you.record(you.account.request_reset(link, you.clock(), you.policy))
    assert not you.account.reset_link_valid("another" + link, you.clock())
    you.clock.advance(minutes=60)
    assert not you.account.reset_link_valid(link, you.clock())
    with pytest.raises(CodeRejected):
        you.account.complete_reset(link, ANSWERS, NEXT_PASSWORD, you.clock(), you.policy, HASHER)


def test_wrong_answers_count_towards_the_lockout():
    you = Subject()
    you.established()
    you.set_questions()
    link = new_token()
    you.record(you.account.request_reset(link, you.clock(), you.policy))
    for _ in range(4):
        changes = you.record(
            you.account.complete_reset(
                link, ["Max", "Boston", "Ford"], NEXT_PASSWORD, you.clock(), you.policy, HASHER
            )
        )
        assert "PasswordChanged" not in kinds(changes)
    assert you.account.locked(you.clock())
    with pytest.raises(CodeRejected):  # now even the right answers wait for the lock
        you.account.complete_reset(link, ANSWERS, NEXT_PASSWORD, you.clock(), you.policy, HASHER)
    assert you.sign_in(PASSWORD) is None


def test_no_reset_link_without_questions_or_for_an_inactive_account():
    you = Subject()
    you.established()
    assert you.account.request_reset(new_token(), you.clock(), you.policy) == []
    you.set_questions()
    you.record(you.account.suspend("investigation"))
    assert you.account.request_reset(new_token(), you.clock(), you.policy) == []


def test_security_questions_must_be_three_different_known_ones_with_real_answers():
    you = Subject()
    with pytest.raises(Exception, match="three different"):
        you.account.set_security_questions(QUESTIONS[:2] * 2, ANSWERS + ["x"], HASHER)
    with pytest.raises(Exception, match="Unknown security question"):
        you.account.set_security_questions(
            [*QUESTIONS[:2], "What is your password?"], ANSWERS, HASHER
        )
    with pytest.raises(Exception, match="at least two letters"):
        you.account.set_security_questions(QUESTIONS, ["Rex", "!!", "Volvo"], HASHER)


def test_signing_in_with_a_raised_hash_cost_rehashes_the_password():
    you = Subject()
    you.established()
    dearer = Hasher(2, 2048, 1)
    changes, session_id = you.account.sign_in(PASSWORD, you.clock(), you.policy, dearer, "c")
    assert session_id and kinds(changes)[-1] == "PasswordRehashed"
    you.record(changes)
    assert not dearer.needs_rehash(you.account.password_hash)
    assert dearer.verify(you.account.password_hash, PASSWORD)
    changes, _ = you.account.sign_in(PASSWORD, you.clock(), you.policy, dearer, "c")
    assert "PasswordRehashed" not in kinds(changes)


# -- signing up, access from the registration, the renewal date --------------------------------

NEW_YORK = ZoneInfo("America/New_York")


def signed_up(email: str = "zorbulon.quixtaveny@example.org", password: str = PASSWORD):
    """A self-made account folded from its ``AccountSignedUp`` event, and the clock."""
    clock = Clock()
    account = Account(str(uuid.uuid4()))
    changes = signed_up_account(account.account_id, email, password, IdentityPolicy(), HASHER)
    EVENTS.validate_all(changes)
    for kind, data in changes:
        account.apply(kind, data, clock())
        account.version += 1
    return account, clock, changes


def test_signing_up_makes_an_applicant_with_the_persons_own_password():
    account, clock, changes = signed_up()
    assert kinds(changes) == ["AccountSignedUp"]
    assert changes[0][1]["role"] == "applicant"
    assert PASSWORD not in str(changes)  # only the hash is recorded
    assert account.role == "applicant" and account.status == ACTIVE
    assert HASHER.verify(account.password_hash, PASSWORD)
    assert account.temporary_until is None
    assert not account.password_expired(clock(), IdentityPolicy())  # not a temporary one
    assert account.permissions(clock(), NEW_YORK) == {
        Permission.ACCOUNT_SELF,
        Permission.REGISTRATION_APPLY,
    }
    assert not account.permissions(clock(), NEW_YORK) & PATIENT_DATA


@pytest.mark.parametrize("weak", ["password1", "Password1!", "Short1!", "alllowercase-words-9"])
def test_signing_up_refuses_a_weak_password(weak):
    with pytest.raises(PasswordRejected):
        signed_up_account(str(uuid.uuid4()), "pat@example.org", weak, IdentityPolicy(), HASHER)


@pytest.mark.parametrize("password", ["Quixtaveny-Zorbulon-7!", "Zorbulon.Quixtaveny#42"])
def test_signing_up_refuses_a_password_made_of_the_emails_local_part(password):
    email = "zorbulon.quixtaveny@example.org"
    with pytest.raises(PasswordRejected, match="built from your name or email"):
        signed_up_account(str(uuid.uuid4()), email, password, IdentityPolicy(), HASHER)
    # The same password is fine for someone whose address has nothing to do with it.
    assert signed_up_account(
        str(uuid.uuid4()), "pat@example.org", password, IdentityPolicy(), HASHER
    )


def test_granting_access_twice_with_the_same_answer_changes_nothing_the_second_time():
    account, clock, _ = signed_up()
    until = date(2028, 3, 1)
    grant = ("prescriber", "Zora", "Quixtaveny", ["1 Main St", "Hartford, CT 06103"], until)

    changes = account.grant_access(*grant)
    assert kinds(changes) == ["AccessGranted"]
    EVENTS.validate_all(changes)
    account.apply(*changes[0], clock())
    assert (account.role, account.full_name, account.access_until) == (
        "prescriber",
        "Zora Quixtaveny",
        until,
    )
    assert account.grant_access(*grant) == []  # a redelivered message
    assert account.grant_access("prescriber", "Zora", "Quixtaveny", [], until) == []

    renewed = account.grant_access(*grant[:4], date(2030, 3, 1))
    assert kinds(renewed) == ["AccessGranted"]
    assert renewed[0][1]["access_until"] == "2030-03-01"


def test_changing_the_access_date_or_the_name_to_what_it_is_changes_nothing():
    account, clock, _ = signed_up()
    (granted,) = account.grant_access("pharmacist", "Zora", "Quixtaveny", ["1 Main St"], None)
    account.apply(*granted, clock())
    assert account.access_until is None
    assert account.change_access_until(None) == []
    changes = account.change_access_until(date(2027, 6, 1))
    assert changes == [("AccessUntilChanged", {"access_until": "2027-06-01"})]
    account.apply(*changes[0], clock())
    assert account.change_access_until(date(2027, 6, 1)) == []

    assert account.update_profile("Zora", "Quixtaveny") == []
    changes = account.update_profile("Zora", "Quixtaveny-Reyes")
    EVENTS.validate_all(changes)
    account.apply(*changes[0], clock())
    assert account.full_name == "Zora Quixtaveny-Reyes"
    assert account.update_profile("Zora", "Quixtaveny-Reyes") == []


def prescriber_until(until: date | None) -> Account:
    account, clock, _ = signed_up()
    (granted,) = account.grant_access("prescriber", "Zora", "Quixtaveny", ["1 Main St"], until)
    EVENTS.validate_all([granted])
    account.apply(*granted, clock())
    return account


def test_patient_data_is_withheld_from_local_midnight_of_the_renewal_date():
    account = prescriber_until(date(2027, 1, 15))  # winter: New York is UTC-5
    everything = permissions_of("prescriber")
    assert everything & PATIENT_DATA  # a prescriber reaches patient data until then

    for still_the_day_before in (
        datetime(2027, 1, 14, 12, 0, tzinfo=UTC),
        datetime(2027, 1, 15, 0, 30, tzinfo=UTC),  # the 15th in UTC, the 14th in New York
        datetime(2027, 1, 15, 4, 59, 59, tzinfo=UTC),
    ):
        assert not account.renewal_due(still_the_day_before, NEW_YORK)
        assert account.permissions(still_the_day_before, NEW_YORK) == everything

    for from_midnight_on in (
        datetime(2027, 1, 15, 5, 0, tzinfo=UTC),
        datetime(2027, 1, 20, 12, 0, tzinfo=UTC),
        datetime(2029, 1, 1, tzinfo=UTC),
    ):
        assert account.renewal_due(from_midnight_on, NEW_YORK)
        granted = account.permissions(from_midnight_on, NEW_YORK)
        assert not granted & PATIENT_DATA
        assert granted == everything - PATIENT_DATA
        assert {Permission.ACCOUNT_SELF, Permission.REGISTRATION_APPLY} <= granted


def test_an_account_without_a_renewal_date_keeps_its_permissions():
    account = prescriber_until(None)
    later = datetime(2099, 1, 1, tzinfo=UTC)
    assert not account.renewal_due(later, NEW_YORK)
    assert account.permissions(later, NEW_YORK) == permissions_of("prescriber")


@given(
    now=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    role=st.sampled_from(["prescriber", "pharmacist", "delegate", "law_enforcement"]),
)
def test_patient_data_is_withheld_exactly_when_the_local_date_has_reached_the_renewal_date(
    now, role
):
    until = date(2028, 7, 4)  # summer: New York is UTC-4
    account = Account(str(uuid.uuid4()), role=role, access_until=until)
    reached = now.astimezone(NEW_YORK).date() >= until
    granted = account.permissions(now, NEW_YORK)
    assert account.renewal_due(now, NEW_YORK) == reached
    assert (
        (granted == permissions_of(role) - PATIENT_DATA)
        if reached
        else (granted == permissions_of(role))
    )
    assert {Permission.ACCOUNT_SELF, Permission.REGISTRATION_APPLY} <= granted


def test_administrators_cannot_make_or_turn_an_account_into_an_applicant():
    with pytest.raises(AccountStateConflict, match="/register"):
        new_account(str(uuid.uuid4()), "a@example.org", "Ann", "Lee", "applicant", ["1 Main St"])
    you = Subject()
    with pytest.raises(AccountStateConflict, match="/register"):
        you.account.change_role("applicant", "demoted")


# -- a permission beyond the role (the medical marijuana registry) ------------------------------

MM = str(Permission.MM_REGISTRY_VERIFY)


@pytest.mark.parametrize("role", ["prescriber", "pharmacist"])
def test_an_administrator_grants_a_prescriber_or_pharmacist_the_registry_and_withdraws_it(role):
    you = Subject(role)
    assert MM not in you.account.permissions(you.clock(), NEW_YORK)
    you.record(you.account.grant_permission(MM, "verifies cards for the clinic"))
    assert you.account.permissions(you.clock(), NEW_YORK) == permissions_of(role) | {MM}
    with pytest.raises(AccountStateConflict, match="already has"):
        you.account.grant_permission(MM, "again")
    you.record(you.account.withdraw_permission(MM, "no longer needed"))
    assert you.account.permissions(you.clock(), NEW_YORK) == permissions_of(role)
    with pytest.raises(AccountStateConflict, match="was not granted"):
        you.account.withdraw_permission(MM, "again")


@pytest.mark.parametrize("role", ["delegate", "auditor", "administrator", "data_submitter"])
def test_the_registry_is_granted_to_no_other_role(role):
    with pytest.raises(AccountStateConflict, match="cannot be granted"):
        Subject(role).account.grant_permission(MM, "reason")


def test_nothing_but_the_registry_may_be_granted_beyond_a_role():
    with pytest.raises(AccountStateConflict, match="cannot be granted"):
        Subject("pharmacist").account.grant_permission(str(Permission.USER_VIEW), "reason")


def test_a_grant_lapses_with_a_role_that_does_not_allow_it_and_with_a_renewal_due():
    you = Subject("prescriber")
    you.record(you.account.grant_permission(MM, "reason"))
    you.record(you.account.change_role("delegate", "now a delegate"))
    assert MM not in you.account.permissions(you.clock(), NEW_YORK)
    you.record(you.account.change_role("pharmacist", "now a pharmacist"))
    assert MM in you.account.permissions(you.clock(), NEW_YORK)
    you.record(you.account.change_access_until(you.clock().date() - timedelta(days=1)))
    assert MM not in you.account.permissions(you.clock(), NEW_YORK)


def test_an_administrator_sees_what_was_granted_and_what_may_be_granted():
    you = Subject("pharmacist")
    shown = AccountQueries.details(you.account, [], you.clock(), you.policy)
    assert (shown["granted_permissions"], shown["grantable_permissions"]) == ([], [MM])
    you.record(you.account.grant_permission(MM, "reason"))
    assert AccountQueries.details(you.account, [], you.clock(), you.policy)[
        "granted_permissions"
    ] == [MM]
    you.record(you.account.change_role("auditor", "now an auditor"))
    shown = AccountQueries.details(you.account, [], you.clock(), you.policy)
    assert (shown["granted_permissions"], shown["grantable_permissions"]) == ([MM], [])
