"""The account aggregate: who may sign in, with what, and for how long. Pure: no I/O.

An ``Account`` is folded from its stream's events. Each decision is a method that checks the
rules against that state and the clock it is given, and returns the changes to append as
``(event type, data)`` pairs; it never changes the state itself. Hashing is CPU work, not
I/O, so the hasher is passed in like the clock.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from services.identity.passwords import (
    Hasher,
    PasswordRejected,
    PasswordRules,
    normalise_answer,
    problems_with,
)
from services.identity.roles import (
    PATIENT_DATA,
    Permission,
    Role,
    grantable_to,
    permissions_of,
)

Change = tuple[str, dict[str, Any]]

ACTIVE, SUSPENDED, REVOKED, REMOVED = "active", "suspended", "revoked", "removed"

# Where a signed-in session stands; only READY reaches anything beyond these steps.
MFA, CHANGE_PASSWORD, ENROL_MFA, READY = "mfa", "change_password", "enrol_mfa", "ready"

SECURITY_QUESTIONS = (
    "What was the name of your first pet?",
    "In what city were you born?",
    "What was the make of your first car?",
    "What was the name of your elementary school?",
    "What is your oldest sibling's middle name?",
    "In what city did your parents meet?",
    "What was your childhood nickname?",
    "What was the name of the street you grew up on?",
)


@dataclass(frozen=True)
class IdentityPolicy:
    """The configurable rules, read from settings once per service."""

    password: PasswordRules = PasswordRules()
    max_age_days: int = 90
    max_age_by_role: dict[str, int] = field(default_factory=dict)
    temporary_password_days: int = 14
    reset_link_minutes: int = 60
    lockout_attempts: int = 4
    lockout_minutes: int = 10
    session_idle_minutes: int = 15
    session_max_hours: int = 8
    mfa_required_roles: frozenset[str] = frozenset({Role.ADMINISTRATOR, Role.AUDITOR})

    def max_age(self, role: str) -> timedelta:
        return timedelta(days=self.max_age_by_role.get(role, self.max_age_days))


class AccountError(Exception):
    """A request the account's state does not allow; the message says why, to a person."""


class AccountStateConflict(AccountError):
    """The action does not fit the account's status (reinstating an active account, ...)."""


class SignInRefused(AccountError):
    """Sign-in failed. One message for every cause, so callers cannot tell causes apart."""

    MESSAGE = (
        "The email address or password is not right, or the account is locked. After "
        "repeated failures an account is locked for a few minutes; the help desk can help."
    )

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class CodeRejected(AccountError):
    """A one-time code, recovery code, reset link or security answer did not match."""


@dataclass(frozen=True)
class Session:
    session_id: str
    started_at: datetime
    expires_at: datetime
    mfa_passed: bool


def token_hash(token: str) -> str:
    """Session tokens and links are stored only as this hash; the token is high-entropy."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class Account:
    account_id: str
    version: int = 0
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    role: str = ""
    address_lines: list[str] = field(default_factory=list)
    status: str = ACTIVE
    created_at: datetime | None = None
    password_hash: str | None = None
    password_set_at: datetime | None = None
    temporary_until: datetime | None = None  # set while the password is a temporary one
    temporary_used: bool = False
    history: list[str] = field(default_factory=list)  # newest first
    failed_attempts: int = 0
    locked_until: datetime | None = None
    mfa_secret: str | None = None  # sealed (encrypted) TOTP seed
    recovery_codes: set[str] = field(default_factory=set)  # hashes of unused codes
    last_totp_step: int = 0  # a code is accepted once: replays of a seen step are refused
    questions: list[str] = field(default_factory=list)
    answer_hashes: list[str] = field(default_factory=list)
    reset_link_hash: str | None = None
    reset_expires_at: datetime | None = None
    sessions: dict[str, Session] = field(default_factory=dict)
    last_sign_in_at: datetime | None = None
    access_until: date | None = None  # the registration's renewal date, if it has one
    granted: set[str] = field(default_factory=set)  # beyond the role, by an administrator
    letter_id: str | None = None  # the letter carrying the temporary password now in force
    pending_resets: dict[str, dict[str, Any]] = field(default_factory=dict)  # awaiting approval

    # -- folding ---------------------------------------------------------------------------

    @classmethod
    def fold(cls, account_id: str, events: Sequence[Any]) -> Account:
        """The account as its recorded events (``RecordedEvent``s) left it."""
        account = cls(account_id)
        for event in events:
            account.apply(event.type, event.data, event.metadata.occurred_at)
            account.version = event.version
        return account

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def apply(self, kind: str, data: dict[str, Any], at: datetime) -> None:
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(data, at)

    def _on_AccountCreated(self, d: dict, at: datetime) -> None:
        self.email, self.role = d["email"], d["role"]
        self.first_name, self.last_name = d["first_name"], d["last_name"]
        self.address_lines = list(d["address_lines"])
        self.created_at = at

    def _on_AccountSignedUp(self, d: dict, at: datetime) -> None:
        self.email, self.role = d["email"], d["role"]
        self.created_at = at
        self._set_password(d["password_hash"], at)

    def _on_AccessGranted(self, d: dict, at: datetime) -> None:
        self.role = d["role"]
        self.first_name, self.last_name = d["first_name"], d["last_name"]
        self.address_lines = list(d.get("address_lines") or self.address_lines)
        self._on_AccessUntilChanged(d, at)

    def _on_AccessUntilChanged(self, d: dict, at: datetime) -> None:
        until = d["access_until"]
        self.access_until = date.fromisoformat(until) if until else None

    def _on_ProfileUpdated(self, d: dict, at: datetime) -> None:
        self.first_name, self.last_name = d["first_name"], d["last_name"]

    def _on_TemporaryPasswordIssued(self, d: dict, at: datetime) -> None:
        self._set_password(d["password_hash"], at)
        self.temporary_until = _parse(d["expires_at"])
        self.temporary_used = False
        self.failed_attempts, self.locked_until = 0, None
        self.reset_link_hash = self.reset_expires_at = None  # a new letter voids older links
        self.letter_id = d.get("letter_id")

    def _on_CredentialResetRequested(self, d: dict, at: datetime) -> None:
        self.pending_resets[d["request_id"]] = {**d, "requested_at": at}

    def _on_CredentialResetApproved(self, d: dict, at: datetime) -> None:
        self.pending_resets.pop(d["request_id"], None)

    def _on_CredentialResetDeclined(self, d: dict, at: datetime) -> None:
        self.pending_resets.pop(d["request_id"], None)

    def _on_PasswordChanged(self, d: dict, at: datetime) -> None:
        self._set_password(d["password_hash"], at)
        self.temporary_until = None
        self.reset_link_hash = self.reset_expires_at = None
        self.failed_attempts, self.locked_until = 0, None

    def _set_password(self, password_hash: str, at: datetime) -> None:
        self.password_hash, self.password_set_at = password_hash, at
        self.history = [password_hash, *self.history][:50]

    def _on_PasswordRehashed(self, d: dict, at: datetime) -> None:
        self.password_hash = d["password_hash"]
        self.history = [d["password_hash"], *self.history[1:]]

    def _on_LoginSucceeded(self, d: dict, at: datetime) -> None:
        self.failed_attempts = 0
        self.last_sign_in_at = at
        if self.temporary_until is not None:
            self.temporary_used = True

    def _on_LoginFailed(self, d: dict, at: datetime) -> None:
        if d["reason"] in {"wrong_password", "wrong_code", "wrong_answers"}:
            if self.locked_until is not None and at >= self.locked_until:
                self.failed_attempts, self.locked_until = 0, None  # a lock that ran out
            self.failed_attempts += 1

    def _on_AccountLocked(self, d: dict, at: datetime) -> None:
        self.locked_until = _parse(d["locked_until"])

    def _on_AccountUnlocked(self, d: dict, at: datetime) -> None:
        self.failed_attempts, self.locked_until = 0, None

    def _on_SessionStarted(self, d: dict, at: datetime) -> None:
        self.sessions[d["session_id"]] = Session(
            d["session_id"], at, _parse(d["expires_at"]), mfa_passed=False
        )

    def _on_MfaChallengePassed(self, d: dict, at: datetime) -> None:
        session = self.sessions.get(d["session_id"])
        if session is not None:
            self.sessions[session.session_id] = Session(
                session.session_id, session.started_at, session.expires_at, mfa_passed=True
            )
        self.failed_attempts = 0
        if d.get("recovery_code_hash"):
            self.recovery_codes.discard(d["recovery_code_hash"])
        self.last_totp_step = max(self.last_totp_step, d.get("step", 0))

    def _on_SessionEnded(self, d: dict, at: datetime) -> None:
        self.sessions.pop(d["session_id"], None)

    def _on_MfaEnrolled(self, d: dict, at: datetime) -> None:
        self.mfa_secret = d["sealed_secret"]
        self.recovery_codes = set(d["recovery_code_hashes"])

    def _on_MfaReset(self, d: dict, at: datetime) -> None:
        self.mfa_secret, self.recovery_codes = None, set()

    def _on_SecurityQuestionsSet(self, d: dict, at: datetime) -> None:
        self.questions, self.answer_hashes = list(d["questions"]), list(d["answer_hashes"])

    def _on_PasswordResetRequested(self, d: dict, at: datetime) -> None:
        self.reset_link_hash, self.reset_expires_at = d["link_hash"], _parse(d["expires_at"])

    def _on_AccountSuspended(self, d: dict, at: datetime) -> None:
        self.status = SUSPENDED

    def _on_AccountReinstated(self, d: dict, at: datetime) -> None:
        self.status = ACTIVE

    def _on_AccountRevoked(self, d: dict, at: datetime) -> None:
        self.status = REVOKED

    def _on_AccountRemoved(self, d: dict, at: datetime) -> None:
        self.status = REMOVED

    def _on_RoleChanged(self, d: dict, at: datetime) -> None:
        self.role = d["to_role"]

    def _on_PermissionGranted(self, d: dict, at: datetime) -> None:
        self.granted.add(d["permission"])

    def _on_PermissionWithdrawn(self, d: dict, at: datetime) -> None:
        self.granted.discard(d["permission"])

    # -- questions about the state ------------------------------------------------------------

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def password_expired(self, now: datetime, policy: IdentityPolicy) -> bool:
        if self.temporary_until is not None:
            return True  # a temporary password is for the first sign-in only
        return self.password_set_at is None or now >= self.password_set_at + policy.max_age(
            self.role
        )

    def renewal_due(self, now: datetime, timezone: Any) -> bool:
        """Whether the registration's renewal date has come (in the program's time zone)."""
        return self.access_until is not None and now.astimezone(timezone).date() >= (
            self.access_until
        )

    def permissions(self, now: datetime, timezone: Any) -> frozenset[Permission]:
        """What the role grants, with what an administrator granted this account that the
        role allows granting, less patient data once the renewal date has come."""
        extra = {p for p in grantable_to(self.role) if str(p) in self.granted}
        granted = permissions_of(self.role) | extra
        return granted - PATIENT_DATA if self.renewal_due(now, timezone) else granted

    def stage(self, session: Session, now: datetime, policy: IdentityPolicy) -> str:
        """What a signed-in user must do before anything else: the steps, in order."""
        if self.mfa_secret and not session.mfa_passed:
            return MFA
        if self.password_expired(now, policy):
            return CHANGE_PASSWORD
        if not self.mfa_secret and self.role in policy.mfa_required_roles:
            return ENROL_MFA
        return READY

    # -- decisions ----------------------------------------------------------------------------

    def sign_in(
        self, password: str, now: datetime, policy: IdentityPolicy, hasher: Hasher, client: str
    ) -> tuple[list[Change], str | None]:
        """Changes to record, and the new session's id when the sign-in succeeds."""
        matches = hasher.verify(self.password_hash, password)  # always spend the hash time
        refusal = self._refusal(matches, now)
        if refusal:
            changes: list[Change] = [("LoginFailed", {"reason": refusal, "client": client})]
            if refusal == "wrong_password":
                changes += self._lock_if_exhausted(now, policy)
            return changes, None
        session_id = str(uuid.uuid4())
        changes = [
            ("LoginSucceeded", {"session_id": session_id, "client": client}),
            self._session_started(session_id, now, policy),
        ]
        if hasher.needs_rehash(self.password_hash or ""):
            changes.append(("PasswordRehashed", {"password_hash": hasher.hash(password)}))
        return changes, session_id

    def _refusal(self, matches: bool, now: datetime) -> str | None:
        if self.status != ACTIVE:
            return self.status
        if self.locked(now):
            return "locked"
        if not matches:
            return "wrong_password"
        if self.temporary_until is not None and (
            now >= self.temporary_until or self.temporary_used
        ):
            return "temporary_password_spent"
        return None

    def _lock_if_exhausted(self, now: datetime, policy: IdentityPolicy) -> list[Change]:
        lapsed = self.locked_until is not None and now >= self.locked_until
        failures = 1 if lapsed else self.failed_attempts + 1  # a lock that ran out starts over
        if failures < policy.lockout_attempts:
            return []
        until = now + timedelta(minutes=policy.lockout_minutes)
        return [
            (
                "AccountLocked",
                {"locked_until": until.isoformat(), "failed_attempts": failures},
            )
        ]

    def _session_started(self, session_id: str, now: datetime, policy: IdentityPolicy) -> Change:
        expires = now + timedelta(hours=policy.session_max_hours)
        return ("SessionStarted", {"session_id": session_id, "expires_at": expires.isoformat()})

    def pass_mfa(
        self,
        session_id: str,
        code: str,
        totp_step: int | None,
        now: datetime,
        policy: IdentityPolicy,
    ) -> list[Change]:
        """``totp_step``: the time step ``code`` matched as a TOTP (checked by the caller, who
        can unseal the seed), else None; ``code`` may then be an unused recovery code."""
        if session_id not in self.sessions:
            raise AccountStateConflict("This sign-in has ended; please sign in again.")
        if self.locked(now):
            raise CodeRejected(SignInRefused.MESSAGE)
        if totp_step is not None and totp_step > self.last_totp_step:
            return [self.mfa_passed(session_id, totp_step)]
        code_hash = token_hash(_normal_code(code))
        if code_hash in self.recovery_codes:
            data = {
                "session_id": session_id,
                "method": "recovery_code",
                "recovery_code_hash": code_hash,
            }
            return [("MfaChallengePassed", data)]
        failed: Change = ("LoginFailed", {"reason": "wrong_code", "client": ""})
        return [failed, *self._lock_if_exhausted(now, policy)]

    @staticmethod
    def mfa_passed(session_id: str, totp_step: int) -> Change:
        data = {"session_id": session_id, "method": "totp", "step": totp_step}
        return ("MfaChallengePassed", data)

    def change_password(
        self,
        current: str | None,
        new: str,
        now: datetime,
        policy: IdentityPolicy,
        hasher: Hasher,
        via: str = "self",
    ) -> list[Change]:
        """Changes for a new password; every session ends. Raises ``PasswordRejected``.

        ``current`` is None when the user proved who they are another way (a reset link).
        """
        if current is not None and not hasher.verify(self.password_hash, current):
            raise PasswordRejected(["you gave as your current password is not right"])
        self.check_new_password(new, policy, hasher)
        return [
            ("PasswordChanged", {"password_hash": hasher.hash(new), "via": via}),
            *self.end_sessions("password_changed"),
        ]

    def check_new_password(self, new: str, policy: IdentityPolicy, hasher: Hasher) -> None:
        problems = problems_with(new, policy.password, self._personal_words())
        if hasher.matches_any(self.history[: policy.password.history], new):
            count = policy.password.history
            problems.append(
                "must not be the same as your last password"
                if count == 1
                else f"must not be the same as any of your last {count} passwords"
            )
        if problems:
            raise PasswordRejected(problems)

    def _personal_words(self) -> list[str]:
        local = self.email.partition("@")[0]
        return [self.first_name, self.last_name, local, self.email]

    def start_session(self, now: datetime, policy: IdentityPolicy) -> tuple[Change, str]:
        session_id = str(uuid.uuid4())
        return self._session_started(session_id, now, policy), session_id

    def end_sessions(self, reason: str) -> list[Change]:
        return [("SessionEnded", {"session_id": s, "reason": reason}) for s in self.sessions]

    def end_session(self, session_id: str, reason: str) -> list[Change]:
        if session_id not in self.sessions:
            return []
        return [("SessionEnded", {"session_id": session_id, "reason": reason})]

    def session_problem(self, session_id: str, now: datetime) -> str | None:
        """Why the session cannot be used any more, or None while it can."""
        session = self.sessions.get(session_id)
        if session is None:
            return "ended"
        if self.status != ACTIVE:
            return self.status
        if self.locked(now):  # someone is guessing the password: no session works meanwhile
            return "locked"
        if now >= session.expires_at:
            return "expired"
        return None

    def enrol_mfa(self, sealed_secret: str, recovery_codes: Sequence[str]) -> list[Change]:
        hashes = sorted(token_hash(_normal_code(c)) for c in recovery_codes)
        return [("MfaEnrolled", {"sealed_secret": sealed_secret, "recovery_code_hashes": hashes})]

    def set_security_questions(
        self, questions: Sequence[str], answers: Sequence[str], hasher: Hasher
    ) -> list[Change]:
        if len(questions) != 3 or len(set(questions)) != 3:
            raise AccountError("Choose three different security questions.")
        unknown = [q for q in questions if q not in SECURITY_QUESTIONS]
        if unknown:
            raise AccountError(f"Unknown security question: {unknown[0]}")
        normalised = [normalise_answer(a) for a in answers]
        if len(normalised) != 3 or any(len(a) < 2 for a in normalised):
            raise AccountError("Give an answer of at least two letters or digits to each question.")
        return [
            (
                "SecurityQuestionsSet",
                {
                    "questions": list(questions),
                    "answer_hashes": [hasher.hash(a) for a in normalised],
                },
            )
        ]

    def request_reset(self, link_token: str, now: datetime, policy: IdentityPolicy) -> list[Change]:
        """A reset link goes only to active accounts that can answer their questions."""
        if self.status != ACTIVE or not self.answer_hashes:
            return []
        expires = now + timedelta(minutes=policy.reset_link_minutes)
        return [
            (
                "PasswordResetRequested",
                {"link_hash": token_hash(link_token), "expires_at": expires.isoformat()},
            )
        ]

    def reset_link_valid(self, link_token: str, now: datetime) -> bool:
        return (
            self.status == ACTIVE
            and self.reset_link_hash is not None
            and self.reset_expires_at is not None
            and now < self.reset_expires_at
            and secrets.compare_digest(self.reset_link_hash, token_hash(link_token))
        )

    def complete_reset(
        self,
        link_token: str,
        answers: Sequence[str],
        new: str,
        now: datetime,
        policy: IdentityPolicy,
        hasher: Hasher,
    ) -> list[Change]:
        """Answers right and link valid: a new password. Wrong answers count as failures."""
        if not self.reset_link_valid(link_token, now):
            raise CodeRejected(
                "This reset link has expired or was already used; ask for a new one."
            )
        if self.locked(now):
            raise CodeRejected(SignInRefused.MESSAGE)
        right = len(answers) == len(self.answer_hashes) and all(
            hasher.verify(h, normalise_answer(a))
            for h, a in zip(self.answer_hashes, answers, strict=True)
        )
        if not right:
            failed = [("LoginFailed", {"reason": "wrong_answers", "client": ""})]
            return failed + self._lock_if_exhausted(now, policy)
        return self.change_password(None, new, now, policy, hasher, via="reset")

    # -- administrators' actions ------------------------------------------------------------

    def suspend(self, reason: str) -> list[Change]:
        self._require(self.status == ACTIVE, "Only an active account can be suspended.")
        return [("AccountSuspended", {"reason": reason}), *self.end_sessions("suspended")]

    def reinstate(self, reason: str) -> list[Change]:
        self._require(self.status == SUSPENDED, "Only a suspended account can be reinstated.")
        return [("AccountReinstated", {"reason": reason})]

    def revoke(self, reason: str) -> list[Change]:
        self._require(
            self.status in {ACTIVE, SUSPENDED},
            "Only an active or suspended account can be revoked.",
        )
        return [("AccountRevoked", {"reason": reason}), *self.end_sessions("revoked")]

    def remove(self, reason: str) -> list[Change]:
        self._require(self.status != REMOVED, "This account was already removed.")
        return [("AccountRemoved", {"reason": reason}), *self.end_sessions("removed")]

    def unlock(self, reason: str, now: datetime) -> list[Change]:
        self._require(self.status != REMOVED, "This account was removed.")
        self._require(self.locked(now) or self.failed_attempts > 0, "This account is not locked.")
        return [("AccountUnlocked", {"reason": reason})]

    def change_role(self, role: str, reason: str) -> list[Change]:
        self._require(
            self.status not in {REVOKED, REMOVED}, "This account can no longer be changed."
        )
        self._require(role != self.role, f"The account already has the role {Role(role).title}.")
        self._require(role != Role.APPLICANT, APPLICANTS_SIGN_UP)
        change = (
            "RoleChanged",
            {"from_role": self.role, "to_role": str(Role(role)), "reason": reason},
        )
        return [change, *self.end_sessions("role_changed")]

    def grant_permission(self, permission: str, reason: str) -> list[Change]:
        """Grant ``permission`` beyond the role (only what ``roles.GRANTABLE`` allows)."""
        self._require(
            self.status not in {REVOKED, REMOVED}, "This account can no longer be changed."
        )
        allowed = {str(p) for p in grantable_to(self.role)}
        self._require(
            permission in allowed,
            f"{permission} cannot be granted to the role {_title(self.role)}"
            + (f"; only {', '.join(sorted(allowed))}." if allowed else "."),
        )
        self._require(permission not in self.granted, f"The account already has {permission}.")
        return [("PermissionGranted", {"permission": permission, "reason": reason})]

    def withdraw_permission(self, permission: str, reason: str) -> list[Change]:
        self._require(permission in self.granted, f"The account was not granted {permission}.")
        return [("PermissionWithdrawn", {"permission": permission, "reason": reason})]

    def issue_temporary_password(
        self,
        password: str,
        now: datetime,
        policy: IdentityPolicy,
        hasher: Hasher,
        reason: str,
        letter_id: str | None = None,
        delivery: str = "in_hand",
    ) -> list[Change]:
        """A new temporary password; a letter to post (``delivery`` "post") is queued for
        the mail room by ``CredentialLetterQueued``, one handed over is not."""
        self._require(
            self.status == ACTIVE, "Temporary passwords are only issued to active accounts."
        )
        expires = now + timedelta(days=policy.temporary_password_days)
        issued = {
            "password_hash": hasher.hash(password),
            "expires_at": expires.isoformat(),
            "reason": reason,
            "letter_id": letter_id,
            "delivery": delivery,
        }
        changes: list[Change] = [("TemporaryPasswordIssued", issued)]
        if delivery == "post":
            changes.append(("CredentialLetterQueued", {"letter_id": letter_id}))
        return changes + self.end_sessions("new_temporary_password")

    def letter_in_force(self, letter_id: str, now: datetime) -> bool:
        """Whether ``letter_id`` still carries the password that signs this account in: not
        replaced by a newer letter or a password of the user's own, not used, not expired."""
        return (
            self.status == ACTIVE
            and self.letter_id == letter_id
            and self.temporary_until is not None
            and not self.temporary_used
            and now < self.temporary_until
        )

    def ask_second_administrator(
        self, request_id: str, action: str, reason: str, requested_by: str, now: datetime,
        hours: int,
    ) -> list[Change]:  # fmt: skip
        """A reset of an administrator, to be carried out when a second one approves."""
        self._require(self.status != REMOVED, "This account was removed.")
        expires = now + timedelta(hours=hours)
        requested = {"request_id": request_id, "action": action, "reason": reason,
                     "requested_by": requested_by, "expires_at": expires.isoformat()}  # fmt: skip
        return [("CredentialResetRequested", requested)]

    def pending_reset(self, request_id: str, now: datetime) -> dict[str, Any]:
        """The pending request ``request_id``; refused once decided or lapsed."""
        pending = self.pending_resets.get(request_id)
        self._require(pending is not None, "There is no such request waiting for approval.")
        self._require(
            now < _parse(pending["expires_at"]),
            "This request lapsed before a second administrator approved it; ask again.",
        )
        return pending

    def grant_access(
        self,
        role: str,
        first_name: str,
        last_name: str,
        address_lines: Sequence[str],
        access_until: date | None,
    ) -> list[Change]:
        """The registration was approved (or renewed). Asked again with the same answer (a
        redelivered message), nothing changes."""
        self._require(self.status == ACTIVE, "Only an active account can be given access.")
        same = (
            self.role == role
            and (self.first_name, self.last_name) == (first_name, last_name)
            and (not address_lines or self.address_lines == list(address_lines))
            and self.access_until == access_until
        )
        if same:
            return []
        granted = {
            "role": str(Role(role)),
            "first_name": first_name,
            "last_name": last_name,
            "address_lines": list(address_lines),
            "access_until": access_until.isoformat() if access_until else None,
        }
        return [("AccessGranted", granted)]

    def change_access_until(self, access_until: date | None) -> list[Change]:
        if self.access_until == access_until:
            return []
        until = access_until.isoformat() if access_until else None
        return [("AccessUntilChanged", {"access_until": until})]

    def update_profile(self, first_name: str, last_name: str) -> list[Change]:
        if (self.first_name, self.last_name) == (first_name, last_name):
            return []
        return [("ProfileUpdated", {"first_name": first_name, "last_name": last_name})]

    def reset_mfa(self, reason: str) -> list[Change]:
        self._require(self.status != REMOVED, "This account was removed.")
        self._require(self.mfa_secret is not None, "This account has no authenticator enrolled.")
        return [("MfaReset", {"reason": reason}), *self.end_sessions("mfa_reset")]

    @staticmethod
    def _require(condition: bool, message: str) -> None:
        if not condition:
            raise AccountStateConflict(message)


def _title(role: str) -> str:
    try:
        return Role(role).title
    except ValueError:
        return role


APPLICANTS_SIGN_UP = (
    "Applicants make their own accounts at /register; give the role they are registered for."
)


def new_account(
    account_id: str,
    email: str,
    first_name: str,
    last_name: str,
    role: str,
    address_lines: Sequence[str],
) -> list[Change]:
    if role == Role.APPLICANT:
        raise AccountStateConflict(APPLICANTS_SIGN_UP)
    created = {
        "account_id": account_id,
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "role": str(Role(role)),
        "address_lines": list(address_lines),
    }
    return [("AccountCreated", created)]


def signed_up_account(
    account_id: str, email: str, password: str, policy: IdentityPolicy, hasher: Hasher
) -> list[Change]:
    """A self-made applicant account: the password is the person's own, so it is checked
    against the policy now and is not temporary."""
    applicant = Account(account_id, email=email, role=str(Role.APPLICANT))
    applicant.check_new_password(password, policy, hasher)
    signed_up = {
        "account_id": account_id,
        "email": email,
        "role": str(Role.APPLICANT),
        "password_hash": hasher.hash(password),
    }
    return [("AccountSignedUp", signed_up)]


def normalise_email(email: str) -> str:
    return email.strip().lower()


def recovery_codes(count: int = 10) -> list[str]:
    """One-time codes for a lost phone, shown once: ``xxxxx-xxxxx``."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def _normal_code(code: str) -> str:
    return "".join(c for c in code.lower() if c.isalnum())


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)
