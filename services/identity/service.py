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
from typing import Any, NoReturn

import eventlet
from nameko.exceptions import RemoteError
from nameko.messaging import Publisher

from pmp import ratelimit
from pmp.calls import ServiceOf
from pmp.eventstore import ConcurrencyError
from pmp.logs import get_logger
from pmp.mail import Email
from pmp.rpc import rpc
from pmp.service import EventSourcedService, ServiceKernel
from services.identity import mfa, signup
from services.identity.access_changes import ACCESS_EXCHANGE, announcer
from services.identity.approvals import ResetApprovals, ResetRequests
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
from services.identity.letters import POSTED, PRINTED, WAITING, LetterQueue, QueuedLetter
from services.identity.letters import metadata as letter_tables
from services.identity.passwords import temporary_password
from services.identity.projections import PROJECTIONS
from services.identity.repository import Accounts, EmailTaken, NotFound, account_stream
from services.identity.resets import (
    ACTION_PERMISSIONS,
    APPROVAL_HOURS,
    NO_TICKET,
    REGISTRANT_ROLES,
    CredentialAction,
    Ruling,
    delivery,
    may_decide_request,
    refusal,
    ruling,
    ticket_problem,
)
from services.identity.roles import NotAuthorized, Permission, Role, require
from services.identity.schemas import identity_events
from services.identity.sessions import SessionIndex, TooManyAttempts, sign_in_check
from services.identity.sessions import metadata as session_tables
from services.identity.tools import IdentityTools, Tools

log = get_logger(__name__)


class SessionInvalid(PermissionError):
    """The session token is unknown, ended, idle too long or past its maximum age."""


class IdentityService(EventSourcedService):
    name = "identity"
    kernel = ServiceKernel(
        identity_events(),
        projections=(*PROJECTIONS, ResetApprovals),
        tables=(session_tables, letter_tables, ratelimit.metadata),
    )
    tools: Tools = IdentityTools()
    helpdesk = ServiceOf("helpdesk")  # is this an open access ticket of the account?
    registration = ServiceOf("registration")  # a registrant's postal address on file
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

    def _limit_sign_in(self, client: str) -> None:
        checks = sign_in_check(client, self.tools.settings.login_rate_limit)
        ratelimit.RateLimit(self.kernel.db).check(checks, self._now(), TooManyAttempts)

    def _limit_mail(self, kind: str, email: str, client: str) -> None:
        """Count an email someone asked for; ``RateLimited`` past a limit. Counted for the
        address asked, whether an account has it or not, so a refusal tells nothing."""
        checks = ratelimit.mail_checks(self.tools.settings, kind, email, client)
        ratelimit.RateLimit(self.kernel.db).check(checks, self._now())

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
        self._limit_sign_in(client)
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
    def sign_up(self, email: str, client: str) -> None:
        """Public: the first step of signing up. The answer is the same whether an account
        has ``email`` or not; the address receives the link that makes an applicant account
        (``complete_sign_up``), or, if it has an account, a notice that someone tried to
        register with it. Mail in the background, as for a reset, so the timing is alike."""
        email = signup.checked_address(email)
        self._limit_mail("sign-up", email, client)
        now = self._now()
        account_id = self.accounts.id_for_email(email)
        # A stream is read either way, so that a known address takes no longer to answer.
        known = self.accounts.load(account_id or str(uuid.uuid4())).exists
        settings = self.tools.settings
        message = (
            signup.existing_account_notice(settings, email)
            if known
            else signup.invitation(settings, email, now)
        )
        eventlet.spawn_n(self._send, message)

    @rpc
    def sign_up_address(self, link: str) -> str:
        """The address a sign-up link was sent to (shown on the page that uses it)."""
        return signup.read_link(self.tools.settings, link, self._now())

    @rpc
    def complete_sign_up(self, link: str, password: str, client: str) -> dict[str, Any]:
        """An applicant's own account for the address the link proves, signed in at once.
        It reaches no patient data until the registration service grants access
        (``grant_access``). The link works once: the address is claimed then."""
        self._limit_sign_in(client)  # a password is hashed: the sign-in limit applies
        now = self._now()
        email = signup.read_link(self.tools.settings, link, now)
        account_id = str(uuid.uuid4())
        policy, hasher = self.tools.policy, self.tools.hasher
        changes = signed_up_account(account_id, email, password, policy, hasher)
        self.kernel.store.registry.validate_all(changes)  # refuse bad input before claiming
        try:
            self.accounts.claim_email(email, account_id)
        except EmailTaken:  # only the address's owner holds the link: telling them is safe
            raise CodeRejected(
                "This link was used already: your account exists. Sign in with your email "
                "address and password, or reset your password if you forgot it."
            ) from None
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
    def request_password_reset(self, email: str, client: str) -> None:
        """Email a reset link if the address belongs to an active account with security
        questions. The answer, and its timing, is the same either way: the mail goes out in
        the background, and the mail limits count the address asked, known or not."""
        self._limit_mail("password-reset", normalise_email(email), client)
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
            log.error("email not sent", subject=message.subject, error=str(exc))

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
        letter = self._issue_letter(account_id, "account created", "in_hand")
        log.info("account created", account_id=account_id, role=role)
        return {"account_id": account_id, "letter_pdf": letter["letter_pdf"]}

    # -- credential resets: who may is ``resets.ruling``'s table --------------------------------

    @rpc
    def issue_temporary_password(
        self, account_id: str, reason: str, ticket_id: str | None = None
    ) -> dict[str, Any]:
        """A new temporary password, as the reset table allows: a registrant's letter goes to
        the mail room's queue (never to the caller); a staff member's to the administrator
        in hand; an administrator's waits for a second administrator."""
        action = CredentialAction.TEMPORARY_PASSWORD
        account, ruled, why = self._credential_ruling(account_id, action, reason, ticket_id)
        if ruled is Ruling.NEEDS_APPROVAL:
            return self._ask_second_administrator(account, action, why)
        return self._issue_letter(account_id, why, delivery(account.role))

    @rpc
    def unlock_account(
        self, account_id: str, reason: str, ticket_id: str | None = None
    ) -> dict[str, Any]:
        action = CredentialAction.UNLOCK
        _, _, why = self._credential_ruling(account_id, action, reason, ticket_id)
        now = self._now()
        self._change(account_id, lambda a: a.unlock(why, now))
        return {"account_id": account_id, "outcome": "done"}

    @rpc
    def reset_mfa(self, account_id: str, reason: str, ticket_id: str | None = None) -> dict:
        action = CredentialAction.RESET_MFA
        account, ruled, why = self._credential_ruling(account_id, action, reason, ticket_id)
        if ruled is Ruling.NEEDS_APPROVAL:
            return self._ask_second_administrator(account, action, why)
        self._change(account_id, lambda a: a.reset_mfa(why))
        return {"account_id": account_id, "outcome": "done"}

    def _credential_ruling(
        self, account_id: str, action: CredentialAction, reason: str, ticket_id: str | None
    ) -> tuple[Account, Ruling, str]:
        """The account, the table's ruling for the caller and the reason to record (naming
        the ticket); a refusal is recorded on the account, then raised."""
        self._require(ACTION_PERMISSIONS[action])
        account = self.accounts.get(account_id)
        role, own = self.kernel.actor_role, self.kernel.actor_id == account_id
        ruled = ruling(role, account.role, action, own)
        if ruled is Ruling.REFUSED:
            self._refuse(account, action, refusal(role, account.role, action, own), ticket_id)
        if ruled is Ruling.NEEDS_TICKET and not ticket_id:
            self._refuse(account, action, NO_TICKET, None)
        if ticket_id:
            reference = self._access_ticket(account, action, str(ticket_id))
            reason = f"Help desk ticket {reference}: {reason}"
        return account, ruled, reason

    def _access_ticket(self, account: Account, action: CredentialAction, ticket_id: str) -> str:
        """The reference of ``ticket_id``, asked of the help desk (with the caller's context),
        if it is an open access ticket of this account; a recorded refusal if not."""
        try:
            uuid.UUID(ticket_id)
        except ValueError:
            self._refuse(account, action, "There is no such help desk ticket.", None)
        try:
            found = self.helpdesk.access_ticket(ticket_id=ticket_id)
        except RemoteError as exc:
            if exc.exc_type not in {"NotFound", "NotAuthorized"}:
                raise
            found = None
        problem = ticket_problem(found, account.account_id)
        if problem:
            self._refuse(account, action, problem, ticket_id)
        return found["reference"]

    def _refuse(
        self, account: Account, action: CredentialAction, why: str, ticket_id: str | None
    ) -> NoReturn:
        refused = {"action": str(action), "refusal": why, "ticket_id": ticket_id}
        self.kernel.append(account_stream(account.account_id), None,
                           [("CredentialActionRefused", refused)])  # fmt: skip
        log.warning("credential action refused", account_id=account.account_id, action=action)
        raise NotAuthorized(why)

    def _ask_second_administrator(
        self, account: Account, action: CredentialAction, why: str
    ) -> dict[str, Any]:
        request_id, now, actor = str(uuid.uuid4()), self._now(), str(self.kernel.actor_id)
        self.accounts.decide(
            account.account_id,
            lambda a: (a.ask_second_administrator(request_id, str(action), why, actor, now,
                                                  APPROVAL_HOURS), None),
        )  # fmt: skip
        log.info("reset awaits a second administrator", account_id=account.account_id)
        return {"account_id": account.account_id, "outcome": "awaiting_approval",
                "request_id": request_id}  # fmt: skip

    @rpc
    def credential_requests(self) -> list[dict[str, Any]]:
        """Resets of administrators waiting for a second administrator, oldest first."""
        self._require(Permission.USER_RESET_APPROVE)
        return ResetRequests(self.kernel.db).pending(self._now())

    @rpc
    def decide_credential_request(
        self, account_id: str, request_id: str, approve: bool, reason: str = ""
    ) -> dict[str, Any]:
        """Approve (and so carry out) or decline a pending reset of an administrator. An
        approved temporary password's letter goes to the approving administrator."""
        self._require(Permission.USER_RESET_APPROVE)
        now, actor = self._now(), str(self.kernel.actor_id)
        account = self.accounts.get(account_id)
        pending = account.pending_reset(request_id, now)
        problem = may_decide_request(
            self.kernel.actor_role, actor, pending["requested_by"], account_id, approve
        )
        if problem:
            raise NotAuthorized(problem)
        decided = {"request_id": request_id, "action": pending["action"],
                   "requested_by": pending["requested_by"], "reason": reason}  # fmt: skip
        if not approve:

            def decline(a: Account) -> tuple[list, None]:
                a.pending_reset(request_id, now)
                return [("CredentialResetDeclined", decided)], None

            self.accounts.decide(account_id, decline)
            return {"account_id": account_id, "outcome": "declined"}
        approved = ("CredentialResetApproved", decided)
        if pending["action"] == CredentialAction.RESET_MFA:

            def carry_out(a: Account) -> list:
                a.pending_reset(request_id, now)
                return [approved, *a.reset_mfa(pending["reason"])]

            self._change(account_id, carry_out)
            return {"account_id": account_id, "outcome": "done"}
        return self._issue_letter(account_id, pending["reason"], "in_hand", approved, request_id)

    def _issue_letter(
        self,
        account_id: str,
        reason: str,
        delivery: str,
        approved: tuple[str, dict] | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Issue a temporary password. By post: sealed into the mail room's queue; in hand:
        the letter, base64-encoded, for the caller. The password exists in clear only inside
        this function and the letter."""
        password, letter_id = temporary_password(), str(uuid.uuid4())
        now, tools, queue = self._now(), self.tools, LetterQueue(self.kernel.db)
        if delivery == "post":
            queue.add(letter_id, account_id, tools.letters.seal(password), now)

        def decide(a: Account) -> list:
            if request_id:
                a.pending_reset(request_id, now)
            issued = a.issue_temporary_password(
                password, now, tools.policy, tools.hasher, reason, letter_id, delivery
            )
            return [*([approved] if approved else []), *issued]

        try:
            self._change(account_id, decide)
        except Exception:
            queue.void(letter_id)  # never issued: nothing sealed stays behind
            raise
        if delivery == "post":
            log.info("credential letter queued for the mail room", account_id=account_id)
            return {"account_id": account_id, "outcome": "queued", "letter_id": letter_id}
        account = self.accounts.get(account_id)
        pdf = self._letter_pdf(account, password, now, tuple(account.address_lines))
        return {"account_id": account_id, "outcome": "in_hand", "letter_id": letter_id,
                "letter_pdf": base64.b64encode(pdf).decode()}  # fmt: skip

    def _letter_pdf(
        self, account: Account, password: str, issued_at: datetime, address: tuple[str, ...]
    ) -> bytes:
        tools = self.tools
        return render_credential_letter(
            CredentialLetter(
                full_name=account.full_name,
                address_lines=address,
                login_email=account.email,
                role_title=Role(account.role).title,
                temporary_password=password,
                issued_at=issued_at,
                expires_at=account.temporary_until or issued_at,
                sign_in_url=f"{tools.settings.public_url}/login",
                timezone=tools.settings.timezone,
            )
        )

    def _change(self, account_id: str, action) -> None:
        """Decide ``action`` on the account and end the sessions it ends."""

        def decide(account: Account):
            changes = action(account)
            return changes, _ended(changes)

        self.sessions.end(self.accounts.decide(account_id, decide))

    # -- the mail room -----------------------------------------------------------------------

    @rpc
    def letters_to_post(self) -> list[dict[str, Any]]:
        """Letters waiting to be printed or posted, oldest first, each with the address it
        goes to (None when there is none on file). A waiting letter whose password is no
        longer in force (replaced, used, expired) is destroyed instead of listed."""
        self._require(Permission.LETTERS_POST)
        queue, now, listed = LetterQueue(self.kernel.db), self._now(), []
        for letter in queue.not_posted():
            account = self.accounts.load(letter.account_id)
            if letter.stage == WAITING and not account.letter_in_force(letter.letter_id, now):
                queue.void(letter.letter_id)
                continue
            address = self._postal_address(account)
            listed.append({
                "letter_id": letter.letter_id, "account_id": letter.account_id,
                "name": account.full_name or account.email, "email": account.email,
                "role": account.role, "role_title": Role(account.role).title,
                "queued_at": letter.queued_at.isoformat(), "stage": letter.stage,
                "printed_at": letter.printed_at.isoformat() if letter.printed_at else None,
                "address_lines": address,
            })  # fmt: skip
        return listed

    @rpc
    def print_letter(self, letter_id: str) -> dict[str, Any]:
        """The letter as a PDF to print, once: its sealed password is destroyed as it is
        printed (a lost print needs a new temporary password). Recorded on the account."""
        self._require(Permission.LETTERS_POST)
        queue, now = LetterQueue(self.kernel.db), self._now()
        letter = _queued(queue, letter_id)
        if letter.sealed_password is None:
            raise AccountStateConflict("This letter was printed already; it prints only once.")
        account = self.accounts.get(letter.account_id)
        if not account.letter_in_force(letter_id, now):
            queue.void(letter_id)
            raise AccountStateConflict("This letter's password is no longer in force.")
        address = self._postal_address(account)
        if not address:
            raise AccountStateConflict(
                "There is no postal address on file for this account: the letter cannot be "
                "printed until the registration has one."
            )
        password = self.tools.letters.open(letter.sealed_password)
        pdf = self._letter_pdf(account, password, now, tuple(address))
        if not queue.printed(letter_id, now):
            raise AccountStateConflict("This letter was printed already; it prints only once.")
        self.kernel.append(account_stream(account.account_id), None,
                           [("CredentialLetterPrinted", {"letter_id": letter_id})])  # fmt: skip
        encoded = base64.b64encode(pdf).decode()
        return {"letter_id": letter_id, "account_id": account.account_id,
                "last_name": account.last_name, "letter_pdf": encoded}  # fmt: skip

    @rpc
    def letter_posted(self, letter_id: str) -> dict[str, Any]:
        self._require(Permission.LETTERS_POST)
        queue = LetterQueue(self.kernel.db)
        letter = _queued(queue, letter_id)
        if letter.stage != PRINTED:
            raise AccountStateConflict(
                "Print the letter first." if letter.stage == WAITING else "Already posted."
            )
        queue.posted(letter_id, self._now())
        self.kernel.append(account_stream(letter.account_id), None,
                           [("CredentialLetterPosted", {"letter_id": letter_id})])  # fmt: skip
        return {"letter_id": letter_id, "account_id": letter.account_id, "stage": POSTED}

    def _postal_address(self, account: Account) -> list[str] | None:
        """Where a registrant's letter goes: the registration's address on file (asked of
        the registration service), else the address identity was given; None if neither."""
        if account.role in REGISTRANT_ROLES:
            try:
                found = self.registration.postal_address(account_id=account.account_id)
            except RemoteError as exc:
                log.warning("registration address not available", error=exc.exc_type)
                found = None
            if found:
                return list(found)
        return list(account.address_lines) or None

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


def _queued(queue: LetterQueue, letter_id: str) -> QueuedLetter:
    try:
        found = queue.get(str(uuid.UUID(str(letter_id))))
    except ValueError:
        found = None
    if found is None:
        raise NotFound("There is no such letter in the mail room's queue.")
    return found


def _ended(changes: list) -> list[str]:
    return [data["session_id"] for kind, data in changes if kind == "SessionEnded"]
