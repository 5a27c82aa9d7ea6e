"""The identity service as deployed: its own process, reached over RabbitMQ like the gateway
reaches it, on SQLite and on PostgreSQL. Every RPC it offers is called here, and every
administrators' RPC is also called by callers who may not use it."""

from __future__ import annotations

import base64
import re
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyotp
import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from services.identity.domain import SECURITY_QUESTIONS, SignInRefused
from tests.helpers.accounts import letter_password
from tests.helpers.processes import Process, python, wait_until

OPERATOR = {"actor_id": "operator", "actor_role": "administrator"}
PUBLIC_URL = "https://pmp.example.gov"
ADDRESS = ["165 Capitol Avenue", "Hartford, CT 06106"]
PASSWORD = "Osprey-Quarry-Velvet-58!"
NEXT_PASSWORD = "Copper-Willow-Anvil-83?"
RESET_PASSWORD = "Granite-Fjord-Tulip-29%"
QUESTIONS = list(SECURITY_QUESTIONS[1:4])
ANSWERS = ["Hartford", "Volvo", "Lincoln Elementary"]
CHEAP_ARGON2 = "t=1,m=1024,p=1"


class Identity:
    """A running identity service and ways to call it."""

    def __init__(self, process: Process, amqp_uri: str, tmp: Path):
        self.process, self.amqp_uri, self.tmp = process, amqp_uri, tmp

    @contextmanager
    def proxy(self, context: dict | None = None) -> Iterator:
        config = {"AMQP_URI": self.amqp_uri}
        kwargs = {"context_data": context} if context is not None else {}
        with ClusterRpcProxy(config, timeout=30, **kwargs) as cluster:
            yield cluster.identity

    def call(self, method: str, *args, context: dict | None = None, **kwargs):
        with self.proxy(context) as identity:
            return getattr(identity, method)(*args, **kwargs)

    def admin(self, method: str, *args, **kwargs):
        return self.call(method, *args, context=OPERATOR, **kwargs)

    def refused(self, method: str, *args, context: dict | None = None, **kwargs) -> RemoteError:
        """The error ``method`` answers with; fails if it answers normally."""
        with pytest.raises(RemoteError) as caught:
            self.call(method, *args, context=context, **kwargs)
        return caught.value

    def create(self, role: str, email: str | None = None) -> tuple[str, str, str]:
        """A new account: its id, email and the temporary password its letter carries."""
        email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.org"
        created = self.admin("create_account", email, "Pat", role.title(), role, ADDRESS)
        return (
            created["account_id"],
            email,
            letter_password(base64.b64decode(created["letter_pdf"]), self.tmp),
        )

    def sign_in(self, email: str, password: str, client: str = "192.0.2.10") -> dict:
        return self.call("sign_in", email, password, client)


@pytest.fixture
def start_identity(
    backend, amqp_uri, env_for, smtp_server, tmp_path, request
) -> Iterator[Callable]:
    if backend == "postgresql":  # set up first, so the schemas are dropped after the stop
        request.getfixturevalue("schema_prefix")
    started: list[Process] = []

    def start(**extra: str) -> Identity:
        settings = {
            "PMP_ARGON2": CHEAP_ARGON2,
            "PMP_SMTP_URL": smtp_server.url,
            "PMP_SECRET_KEY": "k",
            "PMP_PUBLIC_URL": PUBLIC_URL,
            "PMP_LOG_LEVEL": "DEBUG",
            **extra,
        }
        env = env_for(backend, amqp_uri, **{k: v for k, v in settings.items() if v is not None})
        process = Process("identity", python("-m", "pmp", "service", "identity"), env, tmp_path)
        started.append(process)
        identity = Identity(process, amqp_uri, tmp_path)
        wait_until(
            lambda: identity.call("ping")["status"] == "ok",
            60,
            "the identity service answered ping",
            every=0.2,
            watch=[process],
        )
        return identity

    yield start
    for process in started:
        process.stop()


def totp(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def listed(identity: Identity, email: str) -> dict | None:
    found = identity.admin("list_accounts", query=email)["accounts"]
    return next((a for a in found if a["email"] == email), None)


# -- a user's own account, from the letter to a reset ----------------------------------------------


def test_an_administrator_goes_from_the_letter_to_mfa_and_resets_a_forgotten_password(
    start_identity, smtp_server
):
    identity = start_identity()
    account_id, email, temporary = identity.create("administrator", "Ada.Admin@Example.gov")
    assert email.lower() == "ada.admin@example.gov"
    email = email.lower()
    found = wait_until(lambda: listed(identity, email), 30, "the account is in the directory")
    assert found["account_id"] == account_id and found["status"] == "active"
    assert found["role_title"] == "Administrator" and not found["mfa_enrolled"]

    # first sign-in: the letter's password, then a forced change (the email is case-blind)
    signed_in = identity.sign_in("ADA.admin@EXAMPLE.gov", temporary)
    token, principal = signed_in["token"], signed_in["principal"]
    assert principal["stage"] == "change_password" and principal["permissions"] == []
    assert identity.call("resolve_session", token)["account_id"] == account_id
    refused = identity.refused("change_password", token, temporary, "password")
    assert refused.exc_type == "PasswordRejected"
    changed = identity.call("change_password", token, temporary, PASSWORD)
    assert identity.refused("resolve_session", token).exc_type == "SessionInvalid"
    token = changed["token"]
    assert changed["principal"]["stage"] == "enrol_mfa"
    assert changed["principal"]["password_expires_at"]

    # MFA enrolment: nothing is stored until a code from the app matches
    enrolment = identity.call("begin_mfa_enrolment", token)
    secret = enrolment["secret"]
    assert enrolment["uri"].startswith("otpauth://totp/") and secret in enrolment["uri"]
    wrong = identity.refused("confirm_mfa_enrolment", token, secret, "000000")
    assert wrong.exc_type == "CodeRejected"
    used_code = totp(secret)
    confirmed = identity.call("confirm_mfa_enrolment", token, secret, used_code)
    codes = confirmed["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    ready = confirmed["principal"]
    assert ready["stage"] == "ready" and ready["mfa_enrolled"]
    assert "user.create" in ready["permissions"]

    # security questions
    assert identity.call("security_questions") == list(SECURITY_QUESTIONS)
    identity.call("set_security_questions", token, QUESTIONS, ANSWERS)
    assert identity.call("resolve_session", token)["security_questions_set"]

    # signing out ends the session; the next sign-in needs a code, once each
    identity.call("sign_out", token)
    assert identity.refused("resolve_session", token).exc_type == "SessionInvalid"
    identity.call("sign_out", token)  # signing out twice is harmless
    second = identity.sign_in(email, PASSWORD)
    assert second["principal"]["stage"] == "mfa" and second["principal"]["permissions"] == []
    # the password alone changes nothing: not the password, not the authenticator
    half = second["token"]
    attacker = pyotp.random_base32()
    for method, arguments in {
        "change_password": (PASSWORD, NEXT_PASSWORD),
        "begin_mfa_enrolment": (),
        "confirm_mfa_enrolment": (attacker, totp(attacker)),
        "set_security_questions": (QUESTIONS, ["a1", "b2", "c3"]),
    }.items():
        refused = identity.refused(method, half, *arguments)
        assert refused.exc_type == "AccountStateConflict", (method, refused)
    assert identity.call("resolve_session", half)["stage"] == "mfa"
    replay = identity.refused("pass_mfa", second["token"], used_code)
    assert replay.exc_type == "CodeRejected"
    passed = identity.call("pass_mfa", second["token"], totp(secret, steps_ahead=1))
    assert passed["stage"] == "ready"
    third = identity.sign_in(email, PASSWORD)
    assert identity.call("pass_mfa", third["token"], codes[0].upper())["stage"] == "ready"
    fourth = identity.sign_in(email, PASSWORD)
    assert identity.refused("pass_mfa", fourth["token"], codes[0]).exc_type == "CodeRejected"

    # forgotten password: the link arrives by email, the answers set a new password
    identity.call("request_password_reset", "nobody-" + email, "192.0.2.10")
    identity.call("request_password_reset", email.upper(), "192.0.2.10")
    mail = smtp_server.wait_for(lambda m: email in m.envelope_to, timeout=20)
    assert [m.envelope_to for m in smtp_server.messages] == [(email,)]
    match = re.search(re.escape(PUBLIC_URL) + r"/password/reset/(\S+)", mail.text)
    assert match, mail.text
    link = match.group(1)
    assert link.startswith(account_id + ".")
    assert identity.call("reset_questions", link) == QUESTIONS
    forged = link[:-4] + ("aaaa" if not link.endswith("aaaa") else "bbbb")
    assert identity.refused("reset_questions", forged).exc_type == "CodeRejected"
    wrong_answers = identity.refused(
        "complete_password_reset", link, ["Boston", "Ford", "Elm"], RESET_PASSWORD
    )
    assert wrong_answers.exc_type == "CodeRejected"
    identity.call(
        "complete_password_reset",
        link,
        ["hartford", "VOLVO!", "lincoln  elementary"],
        RESET_PASSWORD,
    )
    for old in (second, third, fourth):
        assert identity.refused("resolve_session", old["token"]).exc_type == "SessionInvalid"
    again = identity.refused("complete_password_reset", link, ANSWERS, "Another-Pass-Word-12#")
    assert again.exc_type == "CodeRejected"
    assert identity.refused("sign_in", email, PASSWORD, "c").exc_type == "SignInRefused"
    assert identity.sign_in(email, RESET_PASSWORD)["principal"]["stage"] == "mfa"

    history = [e["type"] for e in identity.admin("get_account", account_id)["history"]]
    for kind in ("AccountCreated", "MfaEnrolled", "SecurityQuestionsSet", "PasswordChanged"):
        assert kind in history


# -- administrators ------------------------------------------------------------------------------


def test_every_administrators_action_changes_what_the_user_can_do(start_identity):
    identity = start_identity()
    account_id, email, temporary = identity.create("prescriber")
    token = identity.call(
        "change_password", identity.sign_in(email, temporary)["token"], temporary, PASSWORD
    )["token"]
    assert identity.call("resolve_session", token)["stage"] == "ready"
    wait_until(lambda: listed(identity, email), 30, "the account is in the directory")

    def details() -> dict:
        return identity.admin("get_account", account_id)

    # suspend: the open session ends, sign-in is refused; reinstate: back in
    identity.admin("suspend_account", account_id, "licence under review")
    assert identity.refused("resolve_session", token).exc_type == "SessionInvalid"
    assert identity.refused("sign_in", email, PASSWORD, "c").exc_type == "SignInRefused"
    assert details()["status"] == "suspended"
    assert (
        identity.admin("reinstate_account", account_id, "review closed")["account_id"] == account_id
    )
    token = identity.sign_in(email, PASSWORD)["token"]

    # unlock: four wrong passwords lock the account, the help desk opens it again
    for _ in range(4):
        identity.refused("sign_in", email, "not my password", "c")
    assert identity.refused("sign_in", email, PASSWORD, "c").exc_type == "SignInRefused"
    assert details()["locked"] and details()["failed_attempts"] == 4
    locked = wait_until(
        lambda: (a := listed(identity, email)) and a["locked_until"] and a, 30, "listed as locked"
    )
    assert locked["locked_until"]
    # the help desk only from an open access ticket of the account (here, none: refused and
    # recorded); an administrator at once
    helpdesk = {"actor_id": str(uuid.uuid4()), "actor_role": "helpdesk"}
    refused = identity.refused("unlock_account", account_id, "caller", context=helpdesk)
    assert refused.exc_type == "NotAuthorized" and "access ticket" in refused.value
    assert details()["locked"]
    identity.admin("unlock_account", account_id, "caller verified")
    assert not details()["locked"]
    token = identity.sign_in(email, PASSWORD)["token"]

    # reset MFA: the user enrols, loses the phone, and is asked to enrol again
    secret = identity.call("begin_mfa_enrolment", token)["secret"]
    identity.call("confirm_mfa_enrolment", token, secret, totp(secret))
    assert details()["mfa_enrolled"]
    identity.admin("reset_mfa", account_id, "lost phone")
    assert not details()["mfa_enrolled"]
    assert identity.refused("resolve_session", token).exc_type == "SessionInvalid"
    token = identity.sign_in(email, PASSWORD)["token"]
    assert identity.call("resolve_session", token)["stage"] == "ready"  # not a required role

    # change of role: sessions end, the next sign-in has the new role's permissions
    identity.admin("change_role", account_id, "pharmacist", "moved to the pharmacy")
    assert identity.refused("resolve_session", token).exc_type == "SessionInvalid"
    principal = identity.sign_in(email, PASSWORD)["principal"]
    assert principal["role"] == "pharmacist" and principal["role_title"] == "Pharmacist"
    bad_role = identity.refused("change_role", account_id, "superuser", "x" * 5, context=OPERATOR)
    assert bad_role.exc_type == "AccountStateConflict"

    # a new temporary password: a letter queued for the mail room (a registrant's goes by
    # post; the stack tests print it), nothing returned; the old password no longer works
    letter = identity.admin("issue_temporary_password", account_id, "forgot everything")
    assert letter["outcome"] == "queued" and "letter_pdf" not in letter
    assert identity.refused("sign_in", email, PASSWORD, "c").exc_type == "SignInRefused"
    assert details()["temporary_password_until"]

    # revoke, then remove: nothing more can be done with the account
    identity.admin("revoke_account", account_id, "licence withdrawn")
    identity.admin("remove_account", account_id, "left the state")
    assert details()["status"] == "removed" and details()["open_sessions"] == 0
    conflict = identity.refused("reinstate_account", account_id, "mistake", context=OPERATOR)
    assert conflict.exc_type == "AccountStateConflict"
    removed = wait_until(
        lambda: (a := listed(identity, email)) and a["status"] == "removed" and a,
        30,
        "the directory shows the removal",
    )
    assert identity.admin("list_accounts", status="removed")["accounts"] == [removed]
    assert identity.admin("list_accounts", status="active")["accounts"] == []

    history = details()["history"]
    kinds = [e["type"] for e in history]
    for kind in (
        "AccountSuspended", "AccountReinstated", "AccountLocked", "AccountUnlocked", "MfaReset",
        "RoleChanged", "TemporaryPasswordIssued", "AccountRevoked", "AccountRemoved",
    ):  # fmt: skip
        assert kind in kinds
    unlocked = next(e for e in history if e["type"] == "AccountUnlocked")
    assert unlocked["actor_id"] == "operator" and unlocked["details"]["reason"] == "caller verified"
    refusal = next(e for e in history if e["type"] == "CredentialActionRefused")
    assert refusal["actor_role"] == "helpdesk" and refusal["details"]["action"] == "unlock"
    assert not any("password_hash" in e["details"] for e in history)


ADMIN_CALLS = {
    "list_accounts": lambda a: (),
    "get_account": lambda a: (a,),
    "create_account": lambda a: ("x@example.org", "X", "Y", "prescriber", ADDRESS),
    "issue_temporary_password": lambda a: (a, "forgot it"),
    "suspend_account": lambda a: (a, "misuse"),
    "reinstate_account": lambda a: (a, "misuse"),
    "revoke_account": lambda a: (a, "misuse"),
    "remove_account": lambda a: (a, "misuse"),
    "unlock_account": lambda a: (a, "misuse"),
    "reset_mfa": lambda a: (a, "misuse"),
    "change_role": lambda a: (a, "administrator", "misuse"),
    "credential_requests": lambda a: (),
    "decide_credential_request": lambda a: (a, str(uuid.uuid4()), True),
    "letters_to_post": lambda a: (),
    "print_letter": lambda a: (str(uuid.uuid4()),),
    "letter_posted": lambda a: (str(uuid.uuid4()),),
}


def test_administrators_rpcs_refuse_callers_without_the_role(start_identity):
    identity = start_identity()
    account_id, email, temporary = identity.create("prescriber")
    prescriber = {"actor_id": account_id, "actor_role": "prescriber"}
    auditor = {"actor_id": str(uuid.uuid4()), "actor_role": "auditor"}
    for method, arguments in ADMIN_CALLS.items():
        for context in (None, {}, prescriber, auditor, {"actor_role": "root"}):
            error = identity.refused(method, *arguments(account_id), context=context)
            assert error.exc_type == "NotAuthorized", (method, context, error)
    # the help desk may unlock and reissue only from a ticket; never suspend, change roles,
    # approve resets or run the mail room
    helpdesk = {"actor_id": str(uuid.uuid4()), "actor_role": "helpdesk"}
    for method in ("suspend_account", "remove_account", "change_role", "create_account",
                   "issue_temporary_password", "unlock_account", "reset_mfa",
                   "credential_requests", "decide_credential_request", "letters_to_post",
                   "print_letter", "letter_posted"):  # fmt: skip
        error = identity.refused(method, *ADMIN_CALLS[method](account_id), context=helpdesk)
        assert error.exc_type == "NotAuthorized"
    # an administrator may not act on their own account
    own = {"actor_id": account_id, "actor_role": "administrator"}
    error = identity.refused("suspend_account", account_id, "myself", context=own)
    assert error.exc_type == "NotAuthorized"
    # nothing the refused calls asked for happened
    details = identity.admin("get_account", account_id)
    assert details["status"] == "active" and details["role"] == "prescriber"
    assert identity.sign_in(email, temporary)["principal"]["stage"] == "change_password"
    wait_until(lambda: listed(identity, email), 30, "the account is in the directory")
    assert identity.admin("list_accounts")["total"] == 1


# -- abuse ----------------------------------------------------------------------------------------


def test_too_many_sign_ins_from_one_address_are_refused_before_checking_the_password(
    start_identity,
):
    identity = start_identity(PMP_LOGIN_RATE_LIMIT="3/60")
    _, email, temporary = identity.create("prescriber")
    for _ in range(3):
        refused = identity.refused("sign_in", email, "wrong", "203.0.113.5")
        assert refused.exc_type == "SignInRefused"
    throttled = identity.refused("sign_in", email, temporary, "203.0.113.5")
    assert throttled.exc_type == "TooManyAttempts"
    assert re.search(r"Try again in \d+ seconds", throttled.value)
    # another address is not held back, and the account itself was not locked
    assert identity.sign_in(email, temporary, "203.0.113.77")["token"]


def test_a_sign_in_takes_as_long_and_says_the_same_whether_unknown_wrong_or_locked(
    start_identity,
):
    identity = start_identity(PMP_ARGON2=None, PMP_LOGIN_RATE_LIMIT="1000/60")
    wrong_id, wrong_email, _ = identity.create("prescriber")
    _, locked_email, locked_password = identity.create("pharmacist")
    for _ in range(4):
        identity.refused("sign_in", locked_email, "not it", "c")
    assert identity.admin("get_account", wrong_id)["failed_attempts"] == 0

    cases = {
        "unknown": (f"nobody-{uuid.uuid4().hex[:6]}@example.org", "Some-Password-1!"),
        "wrong": (wrong_email, "Some-Password-1!"),
        "locked": (locked_email, locked_password),  # the right password, but locked
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    errors: dict[str, set] = {name: set() for name in cases}
    with identity.proxy() as anonymous, identity.proxy(OPERATOR) as admin:
        for round_ in range(15):
            for name, (email, password) in cases.items():
                started = time.perf_counter()
                try:
                    anonymous.sign_in(email, password, "198.51.100.20")
                except RemoteError as exc:
                    errors[name].add((exc.exc_type, exc.value))
                else:
                    raise AssertionError(f"{name}: signed in")
                times[name].append(time.perf_counter() - started)
            if round_ % 3 == 2:  # keep the "wrong password" account short of its lockout
                admin.unlock_account(wrong_id, "timing test")

    assert errors["unknown"] == errors["wrong"] == errors["locked"]
    assert errors["unknown"] == {("SignInRefused", SignInRefused.MESSAGE)}
    medians = {name: statistics.median(t) for name, t in times.items()}
    fastest, slowest = min(medians.values()), max(medians.values())
    assert slowest / fastest < 3 and slowest - fastest < 0.150, medians


def test_the_letters_password_never_reaches_the_logs_or_the_events(start_identity):
    identity = start_identity()
    account_id, email, temporary = identity.create("prescriber")
    identity.refused("sign_in", email, temporary + "x", "c")
    token = identity.sign_in(email, temporary)["token"]
    identity.call("change_password", token, temporary, PASSWORD)
    identity.sign_in(email, PASSWORD)

    log = identity.process.log()
    for line in ("account created", "signed in", "password changed"):
        assert line in log, f"{line!r} not logged: the test would not see a leak"
    for secret in (temporary, PASSWORD):
        assert secret not in log
    events = str(identity.call("read_events", 0, 5000))
    assert "TemporaryPasswordIssued" in events and "PasswordChanged" in events
    for secret in (temporary, PASSWORD):
        assert secret not in events
