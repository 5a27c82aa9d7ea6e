"""nameko entrypoints of the identity service: who may sign in, and who is asking.

Each RPC loads an account, asks the domain for a decision and appends what it returns.
Sign-in, reset and session RPCs are public (the gateway calls them for anonymous visitors);
administrators' RPCs check the caller's role from the context data the gateway sets, so a
caller that skips the gateway's check is still refused here.
"""

from __future__ import annotations

import base64
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import eventlet
from nameko.messaging import Publisher
from nameko.rpc import rpc

from pmp.eventstore import ConcurrencyError
from pmp.logs import get_logger
from pmp.mail import Email
from pmp.service import EventSourcedService, ServiceKernel
from services.identity import mfa
from services.identity.access_changes import ACCESS_EXCHANGE, announcer
from services.identity.directory import AccountQueries
from services.identity.domain import (
    READY,
    SECURITY_QUESTIONS,
    Account,
    AccountStateConflict,
    CodeRejected,
    SignInRefused,
    new_account,
    new_token,
    normalise_email,
    recovery_codes,
    signed_up_account,
    token_hash,
)
from services.identity.letter import CredentialLetter, render_credential_letter
from services.identity.passwords import temporary_password
from services.identity.projections import PROJECTIONS
from services.identity.repository import Accounts, account_stream
from services.identity.roles import NotAuthorized, Permission, Role, require
from services.identity.schemas import identity_events
from services.identity.sessions import ClientThrottle, SessionIndex
from services.identity.sessions import metadata as session_tables
from services.identity.tools import IdentityTools, Tools

log = get_logger(__name__)


class SessionInvalid(PermissionError):
    """The session token is unknown, ended, idle too long or past its maximum age."""


class IdentityService(EventSourcedService):
    name = "identity"
    kernel = ServiceKernel(identity_events(), projections=PROJECTIONS, tables=(session_tables,))
    tools: Tools = IdentityTools()
    access_changed = Publisher(exchange=ACCESS_EXCHANGE)  # confirmed before an RPC returns

    # -- helpers -------------------------------------------------------------------------------

    @property
    def accounts(self) -> Accounts:
        return Accounts(self.kernel, announcer(self.access_changed))

    @property
    def sessions(self) -> SessionIndex:
        return SessionIndex(self.kernel.db)

    def _now(self) -> datetime:
        return self.kernel.clock()

    def _require(self, permission: Permission) -> None:
        require(self.kernel.actor_role, permission)

    def _session(self, token: str) -> tuple[Account, str]:
        """The account and session id behind ``token``; ends the session if it lapsed."""
        now = self._now()
        hashed = token_hash(token or "")
        row = self.sessions.find(hashed)
        if row is None:
            raise SessionInvalid("You are not signed in, or your session has ended.")
        account = self.accounts.get(row.account_id)
        problem = account.session_problem(row.session_id, now)
        idle = timedelta(minutes=self.tools.policy.session_idle_minutes)
        if problem is None and now - row.last_seen_at >= idle:
            problem = "idle"
        if problem is not None:
            self._end_sessions(account, account.end_session(row.session_id, problem))
            self.sessions.end([row.session_id])
            raise SessionInvalid("Your session has ended; please sign in again.")
        self.sessions.touch(hashed, row.last_seen_at, now)
        return account, row.session_id

    def _past_mfa(self, token: str) -> tuple[Account, str]:
        """``_session`` for the user's own changes: not before the one-time code is entered,
        or a password alone could change the password or replace the authenticator."""
        account, session_id = self._session(token)
        if account.mfa_secret and not account.sessions[session_id].mfa_passed:
            raise AccountStateConflict("Enter the code from your authenticator app first.")
        return account, session_id

    def _end_sessions(self, account: Account, changes: list) -> None:
        try:
            self.accounts.save(account, changes)
        except ConcurrencyError:  # someone else changed the account first: it ends anyway
            log.info("session already ended elsewhere")

    def _new_session_token(self, account_id: str, session_id: str) -> str:
        token = new_token()
        self.sessions.add(token_hash(token), session_id, account_id, self._now())
        return token

    def _principal(self, account: Account, session_id: str) -> dict[str, Any]:
        now = self._now()
        stage = account.stage(account.sessions[session_id], now, self.tools.policy)
        tz = self.tools.settings.timezone
        expires = None
        if account.password_set_at and account.temporary_until is None:
            expires = account.password_set_at + self.tools.policy.max_age(account.role)
        return {
            "account_id": account.account_id,
            "session_id": session_id,
            "email": account.email,
            "name": account.full_name,
            "role": account.role,
            "role_title": Role(account.role).title,
            "status": account.status,
            "stage": stage,
            "permissions": sorted(account.permissions(now, tz)) if stage == READY else [],
            "access_until": account.access_until.isoformat() if account.access_until else None,
            "renewal_due": account.renewal_due(now, tz),
            "mfa_enrolled": account.mfa_secret is not None,
            "security_questions_set": bool(account.answer_hashes),
            "password_expires_at": expires.isoformat() if expires else None,
            "last_sign_in_at": account.last_sign_in_at.isoformat()
            if account.last_sign_in_at
            else None,
        }

    # -- signing in and out ----------------------------------------------------------------------

    @rpc
    def sign_in(self, email: str, password: str, client: str) -> dict[str, Any]:
        """A session token and the first step to take; ``SignInRefused`` for every failure."""
        now = self._now()
        ClientThrottle(self.kernel.db, *self.tools.settings.login_rate_limit).attempt(client, now)
        account_id = self.accounts.id_for_email(email)
        if account_id is None or not self.accounts.load(account_id).exists:
            self.tools.hasher.verify(None, password)  # the same time as a real check
            self.kernel.append(
                "sign-in-unknown", None, [("UnknownAccountSignIn", {"client": client})]
            )
            raise SignInRefused()
        session_id = self.accounts.decide(
            account_id,
            lambda a: a.sign_in(password, now, self.tools.policy, self.tools.hasher, client),
        )
        if session_id is None:
            raise SignInRefused()
        token = self._new_session_token(account_id, session_id)
        account = self.accounts.get(account_id)
        log.info("signed in", account_id=account_id)
        return {"token": token, "principal": self._principal(account, session_id)}

    @rpc
    def sign_up(self, email: str, password: str, client: str) -> dict[str, Any]:
        """An applicant's own account, signed in at once. It reaches no patient data until
        the registration service grants access (``grant_access``)."""
        now = self._now()
        ClientThrottle(self.kernel.db, *self.tools.settings.login_rate_limit).attempt(client, now)
        account_id = str(uuid.uuid4())
        email = normalise_email(email)
        policy, hasher = self.tools.policy, self.tools.hasher
        changes = signed_up_account(account_id, email, password, policy, hasher)
        self.kernel.store.registry.validate_all(changes)  # refuse bad input before claiming
        self.accounts.claim_email(email, account_id)
        self.kernel.append(account_stream(account_id), 0, changes)

        def start(a: Account):
            started, session_id = a.start_session(now, self.tools.policy)
            return [started], session_id

        session_id = self.accounts.decide(account_id, start)
        token = self._new_session_token(account_id, session_id)
        log.info("applicant signed up", account_id=account_id)
        principal = self._principal(self.accounts.get(account_id), session_id)
        return {"token": token, "principal": principal}

    @rpc
    def resolve_session(self, token: str) -> dict[str, Any]:
        """Who holds ``token``: account, role, permissions and the step they are at."""
        account, session_id = self._session(token)
        return self._principal(account, session_id)

    @rpc
    def pass_mfa(self, token: str, code: str) -> dict[str, Any]:
        account, session_id = self._session(token)
        now = self._now()
        if account.mfa_secret is None:
            raise AccountStateConflict("This account has no authenticator enrolled.")
        secret = self.tools.seeds.open(account.mfa_secret)

        def decide(a: Account):
            step = mfa.matching_step(secret, code, now)
            changes = a.pass_mfa(session_id, code, step, now, self.tools.policy)
            return changes, changes[0][0] == "MfaChallengePassed"

        if not self.accounts.decide(account.account_id, decide):
            raise CodeRejected("That code is not right. Enter the current 6-digit code.")
        return self._principal(self.accounts.get(account.account_id), session_id)

    @rpc
    def sign_out(self, token: str) -> None:
        try:
            account, session_id = self._session(token)
        except SessionInvalid:
            return
        self._end_sessions(account, account.end_session(session_id, "signed_out"))
        self.sessions.end([session_id])

    # -- the signed-in user's own account --------------------------------------------------------

    @rpc
    def change_password(self, token: str, current: str, new: str) -> dict[str, Any]:
        """Every session ends, this one included; the caller gets a fresh one."""
        account, _ = self._past_mfa(token)
        now = self._now()
        policy, hasher = self.tools.policy, self.tools.hasher

        def decide(a: Account):
            ended = list(a.sessions)
            changes = a.change_password(current, new, now, policy, hasher)
            started, session_id = a.start_session(now, policy)
            changes.append(started)
            if a.mfa_secret:  # they passed MFA to get here; the new session keeps that
                changes.append(a.mfa_passed(session_id, a.last_totp_step))
            return changes, (ended, session_id)

        ended, session_id = self.accounts.decide(account.account_id, decide)
        self.sessions.end(ended)
        token = self._new_session_token(account.account_id, session_id)
        log.info("password changed", account_id=account.account_id)
        fresh = self.accounts.get(account.account_id)
        return {"token": token, "principal": self._principal(fresh, session_id)}

    @rpc
    def begin_mfa_enrolment(self, token: str) -> dict[str, str]:
        """A new TOTP seed and its ``otpauth://`` link; nothing is stored until confirmed."""
        account, _ = self._past_mfa(token)
        secret = mfa.new_secret()
        return {"secret": secret, "uri": mfa.provisioning_uri(secret, account.email)}

    @rpc
    def confirm_mfa_enrolment(self, token: str, secret: str, code: str) -> dict[str, Any]:
        """Enrol once a code from the app matches; the recovery codes are shown only now."""
        account, session_id = self._past_mfa(token)
        step = mfa.matching_step(secret, code, self._now())
        if step is None:
            raise CodeRejected("That code does not match. Check the time on your phone and retry.")
        codes = recovery_codes()
        sealed = self.tools.seeds.seal(secret)

        def decide(a: Account):
            return [*a.enrol_mfa(sealed, codes), a.mfa_passed(session_id, step)], None

        self.accounts.decide(account.account_id, decide)
        fresh = self.accounts.get(account.account_id)
        return {"recovery_codes": codes, "principal": self._principal(fresh, session_id)}

    @rpc
    def security_questions(self) -> list[str]:
        """The questions a user may choose from."""
        return list(SECURITY_QUESTIONS)

    @rpc
    def set_security_questions(self, token: str, questions: list[str], answers: list[str]) -> None:
        account, _ = self._past_mfa(token)
        self.accounts.decide(
            account.account_id,
            lambda a: (a.set_security_questions(questions, answers, self.tools.hasher), None),
        )

    # -- self-service reset ----------------------------------------------------------------------

    @rpc
    def request_password_reset(self, email: str) -> None:
        """Email a reset link if the address belongs to an active account with security
        questions. The answer, and its timing, is the same either way: the mail goes out in
        the background."""
        account_id = self.accounts.id_for_email(email)
        if account_id is None:
            return
        link = new_token()
        now = self._now()
        account = self.accounts.load(account_id)
        changes = account.request_reset(link, now, self.tools.policy) if account.exists else []
        if not changes:
            return
        self.accounts.save(account, changes)
        url = f"{self.tools.settings.public_url}/password/reset/{account_id}.{link}"
        minutes = self.tools.policy.reset_link_minutes
        message = Email(
            to=account.email,
            subject="Reset your CPMRS password",
            text=(
                f"Hello {account.full_name},\n\n"
                "Someone (we hope you) asked to reset the password of your CPMRS account.\n"
                f"Open this link within {minutes} minutes and answer your security questions:"
                f"\n\n{url}\n\nThe link works once. If you did not ask for this, ignore this "
                "message; your password has not changed.\n\nCPMRS help desk"
            ),
        )
        eventlet.spawn_n(self._send, message)

    def _send(self, message: Email) -> None:
        try:
            self.tools.mailer.send(message)
        except Exception as exc:
            log.error("reset email not sent", error=str(exc))

    def _reset_account(self, link: str) -> tuple[Account, str]:
        account_id, _, token = (link or "").partition(".")
        try:
            uuid.UUID(account_id)
        except ValueError:
            raise CodeRejected("This reset link is not valid; ask for a new one.") from None
        account = self.accounts.load(account_id)
        if not account.reset_link_valid(token, self._now()):
            raise CodeRejected(
                "This reset link has expired or was already used; ask for a new one."
            )
        return account, token

    @rpc
    def reset_questions(self, link: str) -> list[str]:
        """The questions to answer on the reset page for ``link``."""
        account, _ = self._reset_account(link)
        return account.questions

    @rpc
    def complete_password_reset(self, link: str, answers: list[str], new: str) -> None:
        account, token = self._reset_account(link)
        now = self._now()
        policy, hasher = self.tools.policy, self.tools.hasher

        def decide(a: Account):
            ended = list(a.sessions)
            changes = a.complete_reset(token, answers, new, now, policy, hasher)
            return changes, (changes[0][0] == "PasswordChanged", ended)

        changed, ended = self.accounts.decide(account.account_id, decide)
        if not changed:
            raise CodeRejected("The answers do not match the ones on record.")
        self.sessions.end(ended)
        log.info("password reset", account_id=account.account_id)

    # -- administrators ------------------------------------------------------------------------

    @rpc
    def list_accounts(
        self, query: str = "", status: str = "", role: str = "", page: int = 1
    ) -> dict[str, Any]:
        self._require(Permission.USER_VIEW)
        return AccountQueries(self.kernel.db).search(query, status, role, page)

    @rpc
    def get_account(self, account_id: str) -> dict[str, Any]:
        """One account as administrators see it, with its history of events."""
        self._require(Permission.USER_VIEW)
        account = self.accounts.get(account_id)
        history = self.kernel.store.read_stream(account_stream(account_id))
        return AccountQueries.details(account, history, self._now(), self.tools.policy)

    @rpc
    def create_account(
        self, email: str, first_name: str, last_name: str, role: str, address_lines: list[str]
    ) -> dict[str, Any]:
        """A new account with a temporary password; returns its credential letter (PDF)."""
        self._require(Permission.USER_CREATE)
        account_id = str(uuid.uuid4())
        email = normalise_email(email)
        changes = new_account(
            account_id, email, first_name.strip(), last_name.strip(), role, address_lines
        )
        self.kernel.store.registry.validate_all(changes)  # refuse bad input before claiming
        self.accounts.claim_email(email, account_id)
        self.kernel.append(account_stream(account_id), 0, changes)
        letter = self._issue_letter(account_id, "account created")
        log.info("account created", account_id=account_id, role=role)
        return {"account_id": account_id, "letter_pdf": letter}

    @rpc
    def issue_temporary_password(self, account_id: str, reason: str) -> dict[str, Any]:
        self._require(Permission.USER_TEMPORARY_PASSWORD)
        return {"account_id": account_id, "letter_pdf": self._issue_letter(account_id, reason)}

    def _issue_letter(self, account_id: str, reason: str) -> str:
        """Issue a temporary password and return the letter that carries it, base64-encoded.
        The password exists in clear only inside this function and the letter."""
        password = temporary_password()
        now = self._now()
        tools = self.tools
        self.accounts.decide(
            account_id,
            lambda a: (
                a.issue_temporary_password(password, now, tools.policy, tools.hasher, reason),
                None,
            ),
        )
        account = self.accounts.get(account_id)
        pdf = render_credential_letter(
            CredentialLetter(
                full_name=account.full_name,
                address_lines=tuple(account.address_lines),
                login_email=account.email,
                role_title=Role(account.role).title,
                temporary_password=password,
                issued_at=now,
                expires_at=account.temporary_until or now,
                sign_in_url=f"{tools.settings.public_url}/login",
                timezone=tools.settings.timezone,
            )
        )
        return base64.b64encode(pdf).decode()

    def _administer(self, permission: Permission, account_id: str, action) -> dict[str, Any]:
        self._require(permission)
        if account_id == self.kernel.actor_id:
            raise NotAuthorized("Administrators cannot do this to their own account.")

        def decide(account: Account):
            changes = action(account)
            return changes, _ended(changes)

        self.sessions.end(self.accounts.decide(account_id, decide))
        return {"account_id": account_id}

    @rpc
    def suspend_account(self, account_id: str, reason: str) -> dict[str, Any]:
        return self._administer(Permission.USER_SUSPEND, account_id, lambda a: a.suspend(reason))

    @rpc
    def reinstate_account(self, account_id: str, reason: str) -> dict[str, Any]:
        return self._administer(Permission.USER_SUSPEND, account_id, lambda a: a.reinstate(reason))

    @rpc
    def revoke_account(self, account_id: str, reason: str) -> dict[str, Any]:
        return self._administer(Permission.USER_REVOKE, account_id, lambda a: a.revoke(reason))

    @rpc
    def remove_account(self, account_id: str, reason: str) -> dict[str, Any]:
        return self._administer(Permission.USER_REVOKE, account_id, lambda a: a.remove(reason))

    @rpc
    def unlock_account(self, account_id: str, reason: str) -> dict[str, Any]:
        now = self._now()
        return self._administer(Permission.USER_UNLOCK, account_id, lambda a: a.unlock(reason, now))

    @rpc
    def reset_mfa(self, account_id: str, reason: str) -> dict[str, Any]:
        return self._administer(Permission.USER_UNLOCK, account_id, lambda a: a.reset_mfa(reason))

    @rpc
    def change_role(self, account_id: str, role: str, reason: str) -> dict[str, Any]:
        if role not in {str(r) for r in Role}:
            raise AccountStateConflict(f"There is no role called {role!r}.")
        return self._administer(
            Permission.USER_ROLE_CHANGE, account_id, lambda a: a.change_role(role, reason)
        )

    @rpc
    def set_permission(
        self, account_id: str, permission: str, granted: bool, reason: str
    ) -> dict[str, Any]:
        """Grant (or withdraw) one permission beyond the account's role, as ``GRANTABLE``
        allows: the registry to a prescriber or pharmacist. Its sessions carry on; every
        gateway drops its cached principal before this returns (``access_changes``)."""

        def change(account: Account) -> list:
            if granted:
                return account.grant_permission(permission, reason)
            return account.withdraw_permission(permission, reason)

        return self._administer(Permission.USER_ROLE_CHANGE, account_id, change)

    # -- the registration service ----------------------------------------------------------------

    @rpc
    def find_supervisor(self, email: str) -> dict[str, Any] | None:
        """The active prescriber or pharmacist with ``email``, whom a delegate names as their
        supervisor; None if there is none. Only name and role are told."""
        self._require(Permission.REGISTRATION_APPLY)
        account_id = self.accounts.id_for_email(email)
        if account_id is None:
            return None
        account = self.accounts.load(account_id)
        supervising = {str(Role.PRESCRIBER), str(Role.PHARMACIST)}
        if not account.exists or account.status != "active" or account.role not in supervising:
            return None
        return {
            "account_id": account_id,
            "email": account.email,
            "name": account.full_name,
            "role": account.role,
        }

    @rpc
    def account_for_email(self, email: str) -> dict[str, Any] | None:
        """Internal (the help desk): the account a signed-out user who cannot sign in names
        by its email address, to link their ticket to it; None if there is none. Its id and
        standing only; nothing reaches the person who opened the ticket."""
        if self.kernel.actor_id is not None:
            raise NotAuthorized("Only services may ask this.")
        account_id = self.accounts.id_for_email(normalise_email(email))
        if account_id is None:
            return None
        account = self.accounts.load(account_id)
        if not account.exists:
            return None
        return {"account_id": account_id, "status": account.status,
                "locked": account.locked(self._now())}  # fmt: skip

    def _internal(self) -> None:
        """Service-to-service only: a call made for a person (through the gateway) carries
        their ``actor_id`` and is refused."""
        if self.kernel.actor_id is not None:
            raise NotAuthorized("Only the registration service may do this.")

    @rpc
    def grant_access(
        self,
        account_id: str,
        role: str,
        first_name: str,
        last_name: str,
        address_lines: list[str],
        access_until: str | None,
    ) -> dict[str, Any]:
        """An approved registration or renewal; idempotent, so a redelivery changes nothing."""
        self._internal()
        until = date.fromisoformat(access_until) if access_until else None
        self.accounts.decide(
            account_id,
            lambda a: (a.grant_access(role, first_name, last_name, address_lines, until), None),
        )
        log.info("access granted", account_id=account_id, role=role)
        return {"account_id": account_id}

    @rpc
    def set_access_until(self, account_id: str, access_until: str | None) -> dict[str, Any]:
        """A new renewal date (the renewal policy changed); idempotent."""
        self._internal()
        until = date.fromisoformat(access_until) if access_until else None
        self.accounts.decide(account_id, lambda a: (a.change_access_until(until), None))
        return {"account_id": account_id}

    @rpc
    def set_profile(self, account_id: str, first_name: str, last_name: str) -> dict[str, Any]:
        """An approved profile change of the name; idempotent."""
        self._internal()
        self.accounts.decide(account_id, lambda a: (a.update_profile(first_name, last_name), None))
        return {"account_id": account_id}


def _ended(changes: list) -> list[str]:
    return [data["session_id"] for kind, data in changes if kind == "SessionEnded"]
