"""Administrators' pages: the user list with search, one user's details and the actions
(among them granting a prescriber or pharmacist the medical marijuana registry, and
withdrawing it)."""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import urlencode

from nameko.exceptions import RemoteError
from werkzeug.wrappers import Request, Response

from gateway.http import http
from gateway.pages.accounts import form_error, parse_time, redirect
from gateway.pages.credentials import credential_rulings, user_page_actions
from gateway.parameters import page_number
from gateway.problems import Problem
from gateway.responses import download
from services.identity.domain import ACTIVE, REMOVED, REVOKED, SUSPENDED
from services.identity.resets import Ruling, delivery
from services.identity.roles import ASSIGNABLE_ROLE_TITLES, ROLE_TITLES, Permission

STATUS_TITLES = {
    ACTIVE: "Active",
    SUSPENDED: "Suspended",
    REVOKED: "Revoked",
    REMOVED: "Removed",
}

EVENT_WORDS = {
    "AccountCreated": "Account created",
    "TemporaryPasswordIssued": "Temporary password issued (letter)",
    "PasswordChanged": "Password changed",
    "PasswordRehashed": "Password storage upgraded",
    "LoginSucceeded": "Signed in",
    "LoginFailed": "Sign-in failed",
    "AccountLocked": "Locked after repeated failures",
    "AccountUnlocked": "Unlocked",
    "SessionStarted": "Session started",
    "SessionEnded": "Session ended",
    "MfaChallengePassed": "Passed the one-time code check",
    "MfaEnrolled": "Authenticator app set up",
    "MfaReset": "Authenticator app reset",
    "SecurityQuestionsSet": "Security questions set",
    "PasswordResetRequested": "Password reset link requested",
    "AccountSuspended": "Suspended",
    "AccountReinstated": "Reinstated",
    "AccountRevoked": "Revoked",
    "AccountRemoved": "Removed",
    "RoleChanged": "Role changed",
    "PermissionGranted": "Permission granted",
    "PermissionWithdrawn": "Permission withdrawn",
    "CredentialLetterQueued": "Letter queued for the post",
    "CredentialLetterPrinted": "Letter printed in the mail room",
    "CredentialLetterPosted": "Letter posted",
    "CredentialResetRequested": "Reset asked, for a second administrator to approve",
    "CredentialResetApproved": "Reset approved by a second administrator",
    "CredentialResetDeclined": "Reset declined",
    "CredentialActionRefused": "Credential action refused",
}

MM_REGISTRY = str(Permission.MM_REGISTRY_VERIFY)
PERMISSION_WORDS = {MM_REGISTRY: "medical marijuana registry (card verification)"}
#: The actions on the registry grant, shown in their own section of the page.
REGISTRY_ACTIONS = ("registry-grant", "registry-withdraw")

REASON_WORDS = {
    "wrong_password": "wrong password",
    "wrong_code": "wrong one-time code",
    "wrong_answers": "wrong security answers",
    "locked": "account locked",
    "temporary_password_spent": "temporary password already used or expired",
    "signed_out": "signed out",
    "idle": "idle too long",
    "expired": "reached its maximum length",
    "password_changed": "password changed",
    "new_temporary_password": "new temporary password",
    "mfa_reset": "authenticator app reset",
}

# action in the address -> (RPC, permission, label, done notice, needs ticked confirmation)
ACTIONS: dict[str, tuple[str, Permission, str, str, bool]] = {
    "suspend": (
        "suspend_account",
        Permission.USER_SUSPEND,
        "Suspend",
        "The account was suspended; its sessions ended.",
        False,
    ),
    "reinstate": (
        "reinstate_account",
        Permission.USER_SUSPEND,
        "Reinstate",
        "The account was reinstated.",
        False,
    ),
    "unlock": (
        "unlock_account",
        Permission.USER_UNLOCK,
        "Unlock",
        "The account was unlocked.",
        False,
    ),
    "reset-mfa": (
        "reset_mfa",
        Permission.USER_UNLOCK,
        "Reset authenticator app",
        "The authenticator app was reset; the user sets one up again if their role needs it.",
        False,
    ),
    "revoke": (
        "revoke_account",
        Permission.USER_REVOKE,
        "Revoke",
        "The account was revoked.",
        True,
    ),
    "remove": (
        "remove_account",
        Permission.USER_REVOKE,
        "Remove",
        "The account was removed.",
        True,
    ),
    "role": (
        "change_role",
        Permission.USER_ROLE_CHANGE,
        "Change role",
        "The role was changed; the user must sign in again.",
        False,
    ),
    "registry-grant": (
        "set_permission",
        Permission.USER_ROLE_CHANGE,
        "Grant the registry",
        "The registry was granted: within a few seconds the user can verify cards.",
        False,
    ),
    "registry-withdraw": (
        "set_permission",
        Permission.USER_ROLE_CHANGE,
        "Withdraw the registry",
        "The registry was withdrawn: within a few seconds the user can no longer verify cards.",
        False,
    ),
}


OUTCOME_NOTICES = {
    "queued": "A new temporary password letter is queued for the mail room (Letters to post); "
    "it is posted to the address on file.",
    "awaiting_approval": "Requested: a second administrator must approve it under Approvals "
    "before it is carried out.",
}


def pdf_download(pdf_base64: str, last_name: str) -> Response:
    safe = "".join(c for c in last_name if c.isalnum() or c in " -'") or "account"
    return download(
        base64.b64decode(pdf_base64), f"Credential letter - {safe}.pdf", "application/pdf"
    )


def registry_access(account: dict[str, Any]) -> dict[str, bool] | None:
    """Whether the account was granted the registry and whether the grant is in force; None
    when it is neither granted nor grantable (the page shows nothing of it)."""
    granted = MM_REGISTRY in account.get("granted_permissions", ())
    grantable = MM_REGISTRY in account.get("grantable_permissions", ())
    if not (granted or grantable):
        return None
    return {"granted": granted, "in_force": granted and grantable}


def available_actions(account: dict[str, Any], principal: dict[str, Any]) -> list[str]:
    """The actions this viewer may take on this account in its present state; credential
    actions as the reset table allows them here (the help desk's are on the ticket)."""
    permissions = principal["permissions"]
    credential = user_page_actions(principal, account)
    status = account["status"]
    granted = MM_REGISTRY in account.get("granted_permissions", ())
    grantable = MM_REGISTRY in account.get("grantable_permissions", ())
    possible = {
        "suspend": status == ACTIVE,
        "reinstate": status == SUSPENDED,
        "unlock": "unlock" in credential,
        "reset-mfa": "reset-mfa" in credential,
        "role": status in {ACTIVE, SUSPENDED},
        "revoke": status in {ACTIVE, SUSPENDED},
        "remove": status != REMOVED,
        "registry-grant": status in {ACTIVE, SUSPENDED} and grantable and not granted,
        "registry-withdraw": status != REMOVED and granted,
    }
    return [a for a, ok in possible.items() if ok and ACTIONS[a][1] in permissions]


class AdminPages:
    def _identity(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("identity", method, self.settings.rpc_timeout, **kwargs)

    @http("GET", "/admin/users")
    def users_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.USER_VIEW)
        q = request.args.get("q", "").strip()
        status = request.args.get("status", "")
        role = request.args.get("role", "")
        status = status if status in STATUS_TITLES else ""
        role = role if role in ROLE_TITLES else ""
        page = page_number(request)
        found = self._identity("list_accounts", query=q, status=status, role=role, page=page)
        for account in found["accounts"]:
            account["last_sign_in"] = parse_time(account["last_sign_in_at"])
            account["locked"] = bool(account["locked_until"])
        pages = max(1, -(-found["total"] // found["page_size"]))

        def page_link(number: int) -> str:
            return "/admin/users?" + urlencode(
                {"q": q, "status": status, "role": role, "page": number}
            )

        return self.auth.page(
            request, "admin_users.html", principal=principal, title="Users", active="users",
            found=found, q=q, status_filter=status, role=role, pages=pages, page_link=page_link,
            statuses=STATUS_TITLES, roles=ROLE_TITLES,
            can_create=Permission.USER_CREATE in principal["permissions"],
        )  # fmt: skip

    # -- creating --------------------------------------------------------------------------

    def _new_user_form(self, request, principal, status=200, **context) -> Response:
        context.setdefault("form", {})
        return self.auth.page(
            request, "admin_user_new.html", principal=principal, status=status,
            title="Create a user account", active="users", roles=ASSIGNABLE_ROLE_TITLES, **context,
        )  # fmt: skip

    @http("GET", "/admin/users/new")
    def new_user_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.USER_CREATE)
        return self._new_user_form(request, principal)

    @http("POST", "/admin/users")
    def create_user(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self.auth.require(request, self.services, Permission.USER_CREATE)
        form = {k: request.form.get(k, "").strip() for k in ("email", "first_name", "last_name")}
        form["role"] = request.form.get("role", "")
        form["address"] = request.form.get("address", "")
        lines = [line.strip() for line in form["address"].splitlines() if line.strip()]
        errors = {}
        if "@" not in form["email"] or " " in form["email"]:
            errors["email"] = "Enter an email address, like name@example.org."
        if not form["first_name"]:
            errors["first_name"] = "Enter the first name."
        if not form["last_name"]:
            errors["last_name"] = "Enter the last name."
        if form["role"] not in ASSIGNABLE_ROLE_TITLES:
            errors["role"] = "Choose a role."
        if not lines:
            errors["address"] = "Enter the postal address the letter goes to."
        if errors:
            return self._new_user_form(request, principal, status=422, form=form, errors=errors)
        try:
            created = self._identity(
                "create_account", email=form["email"], first_name=form["first_name"],
                last_name=form["last_name"], role=form["role"], address_lines=lines,
            )  # fmt: skip
        except RemoteError as exc:
            status, message = form_error(exc)
            if exc.exc_type == "EmailTaken":
                errors["email"] = message
                return self._new_user_form(
                    request, principal, status=status, form=form, errors=errors
                )
            return self._new_user_form(
                request, principal, status=status, form=form, form_error=message
            )
        return pdf_download(created["letter_pdf"], form["last_name"])

    # -- one account -------------------------------------------------------------------------

    def _user_page(self, request, principal, account_id: str, status=200, **context) -> Response:
        account = self._identity("get_account", account_id=account_id)
        for key in ("last_sign_in_at", "password_expires_at", "temporary_password_until"):
            account[key.removesuffix("_at")] = parse_time(account[key])
        account["created"] = parse_time(account["created_at"])
        account["locked_until_time"] = parse_time(account["locked_until"])
        history = [self._history_row(e, account_id) for e in account["history"]]
        own = principal["account_id"] == account_id
        actions = [] if own else available_actions(account, principal)
        registry_actions = [a for a in actions if a in REGISTRY_ACTIONS]
        actions = [a for a in actions if a not in REGISTRY_ACTIONS]
        done = request.args.get("done", "")
        notice = f"Done. {ACTIONS[done][3]}" if done in ACTIONS else OUTCOME_NOTICES.get(done)
        credential = {} if own else user_page_actions(principal, account)
        letter = credential.get("temporary-password")
        can_letter = letter is not None
        letter_hint = (
            "Another administrator must approve it (Approvals); the approver hands the letter over."
            if letter is Ruling.NEEDS_APPROVAL
            else "Queued for the mail room and posted to the address on file; the current "
            "password stops working."
            if delivery(account["role"]) == "post"
            else "Downloads the letter to hand over in person; the current password stops working."
        )
        approvals = {a for a, r in credential.items() if r is Ruling.NEEDS_APPROVAL}
        rulings = {} if own else credential_rulings(principal, account)
        from_ticket = Ruling.NEEDS_TICKET in rulings.values()  # the help desk: from the ticket
        return self.auth.page(
            request, "admin_user.html", principal=principal, status=status,
            title=f"{account['first_name']} {account['last_name']}", active="users",
            account=account, history=history, actions=actions, action_info=ACTIONS,
            statuses=STATUS_TITLES, roles=ASSIGNABLE_ROLE_TITLES, own=own, notice=notice,
            can_letter=can_letter, letter_hint=letter_hint, approvals=approvals,
            from_ticket=from_ticket,
            registry=registry_access(account),
            registry_actions=registry_actions, **context,
        )  # fmt: skip

    @staticmethod
    def _history_row(event: dict[str, Any], account_id: str) -> dict[str, Any]:
        details = event["details"]
        words = []
        if "from_role" in details and "to_role" in details:
            words.append(
                f"from {ROLE_TITLES.get(details['from_role'], details['from_role'])} "
                f"to {ROLE_TITLES.get(details['to_role'], details['to_role'])}"
            )
        if details.get("permission"):
            words.append(PERMISSION_WORDS.get(details["permission"], details["permission"]))
        if details.get("method"):
            words.append("recovery code" if details["method"] == "recovery_code" else "app code")
        if details.get("client"):
            words.append(f"from {details['client']}")
        if details.get("refusal"):
            words.append(details["refusal"])
        if details.get("delivery") == "post":
            words.append("letter to be posted to the address on file")
        if details.get("via") == "reset":
            words.append("by the emailed reset link")
        actor_id, actor_role = event.get("actor_id"), event.get("actor_role")
        if actor_id == account_id:
            actor = "The user"
        elif actor_id == "operator":
            actor = "Operator (command line)"
        elif actor_id:
            title = ROLE_TITLES.get(actor_role, "Staff") if actor_role else "Staff"
            actor = f"{title} {actor_id[:8]}"
        elif event["type"].startswith("Login"):
            actor = "Someone signing in"
        else:
            actor = "System"
        reason = details.get("reason", "")
        return {
            "what": EVENT_WORDS.get(event["type"], event["type"]),
            "when": parse_time(event["occurred_at"]),
            "actor": actor,
            "details": "; ".join(words),
            "reason": REASON_WORDS.get(reason, reason),
        }

    @http("GET", "/admin/users/<uuid:account_id>")
    def user_page(self, request: Request, account_id: uuid.UUID) -> Response:
        principal = self.auth.require(request, self.services, Permission.USER_VIEW)
        return self._user_page(request, principal, str(account_id))

    @http("POST", "/admin/users/<uuid:account_id>/temporary-password")
    def issue_letter(self, request: Request, account_id: uuid.UUID) -> Response:
        self.auth.check_csrf(request)
        principal = self.auth.require(request, self.services, Permission.USER_TEMPORARY_PASSWORD)
        account_id = str(account_id)
        reason = request.form.get("reason", "").strip()
        if not reason:
            errors = {"letter-reason": "Give the reason for a new temporary password."}
            return self._user_page(request, principal, account_id, status=422, errors=errors)
        try:
            issued = self._identity(
                "issue_temporary_password", account_id=account_id, reason=reason
            )
            account = self._identity("get_account", account_id=account_id)
        except RemoteError as exc:
            status, message = form_error(exc)
            return self._user_page(request, principal, account_id, status=status, error=message)
        if issued["outcome"] != "in_hand":
            return redirect(f"/admin/users/{account_id}?done={issued['outcome']}")
        return pdf_download(issued["letter_pdf"], account["last_name"])

    @http("POST", "/admin/users/<uuid:account_id>/<action>")
    def user_action(self, request: Request, account_id: uuid.UUID, action: str) -> Response:
        self.auth.check_csrf(request)
        if action not in ACTIONS:
            raise Problem(404, "Page not found", "There is no such action on an account.")
        method, permission, label, _, confirm = ACTIONS[action]
        principal = self.auth.require(request, self.services, permission)
        account_id = str(account_id)
        reason = request.form.get("reason", "").strip()
        errors = {}
        if not reason:
            errors[f"{action}-reason"] = "Give the reason; it is kept in the account's history."
        if confirm and not request.form.get("confirm"):
            errors[f"{action}-confirm"] = f"Tick the box to confirm: {label.lower()} this account."
        kwargs = {"account_id": account_id, "reason": reason}
        if action == "role":
            role = request.form.get("role", "")
            if role not in ASSIGNABLE_ROLE_TITLES:
                errors["role-role"] = "Choose the new role."
            kwargs["role"] = role
        if action in REGISTRY_ACTIONS:
            kwargs.update(permission=MM_REGISTRY, granted=action == "registry-grant")
        if errors:
            return self._user_page(
                request, principal, account_id, status=422, errors=errors,
                error="The action was not done: correct the form below.",
            )  # fmt: skip
        try:
            done = self._identity(method, **kwargs)
        except RemoteError as exc:
            status, message = form_error(exc)
            return self._user_page(request, principal, account_id, status=status, error=message)
        if done.get("outcome") == "awaiting_approval":
            action = "awaiting_approval"
        return redirect(f"/admin/users/{account_id}?done={action}")
