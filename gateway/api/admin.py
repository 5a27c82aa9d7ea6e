"""The JSON API for administrators: accounts, their search and the actions on them.

Every handler checks the caller's permission (``self.auth.require``) before calling a
service; the identity service checks the role again from the context data.
Handler names start with ``api_`` so they never clash with the page mixins'.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import http
from gateway.problems import Problem
from gateway.responses import NO_STORE, download, json_response
from gateway.schemas import (
    AccountActionSchema,
    AccountDetailsSchema,
    AccountListSchema,
    AccountQuerySchema,
    CredentialLetterSchema,
    CredentialOutcomeSchema,
    CredentialRequestSchema,
    LetterPostedSchema,
    NewAccountSchema,
    PermissionGrantSchema,
    QueuedLetterSchema,
    ReasonSchema,
    ResetDecisionSchema,
    ResetRequestSchema,
    RoleChangeSchema,
    load_body,
    load_data,
)
from services.identity.roles import Permission

_ACCOUNT_ID = """
          parameters:
            - in: path
              name: account_id
              required: true
              schema:
                type: string
                format: uuid"""

_REFUSALS = """
            401: NotSignedIn
            403:
              description: Your role does not allow this, or it is your own account.
              content:
                application/problem+json:
                  schema: Problem
            404:
              description: There is no such account.
              content:
                application/problem+json:
                  schema: Problem"""


def _account_action(path: str, rpc: str, permission: Permission, summary: str):
    """A handler for ``POST /api/accounts/{account_id}/<path>`` with a reason."""

    @http("POST", f"/api/accounts/<uuid:account_id>/{path}")
    def handler(self, request: Request, account_id: uuid.UUID) -> Response:
        self.auth.require(request, self.services, permission)
        body = load_body(ReasonSchema(), request)
        done = self._api_identity(rpc, account_id=str(account_id), reason=body["reason"])
        return json_response(AccountActionSchema().dump(done))

    handler.__doc__ = f"""{summary}.
        ---
        post:
          summary: {summary}
          description: Needs the permission `{permission}`.
          security:
            - sessionToken: []{_ACCOUNT_ID}
          requestBody:
            required: true
            content:
              application/json:
                schema: Reason
          responses:
            200:
              description: Done.
              content:
                application/json:
                  schema: AccountAction{_REFUSALS}
            409:
              description: The account's state does not allow this.
              content:
                application/problem+json:
                  schema: Problem
            422:
              description: The body is not valid.
              content:
                application/problem+json:
                  schema: ValidationProblem
        """
    return handler


def _credential_action(path: str, rpc: str, permission: Permission, summary: str, extra: str):
    """A handler for ``POST /api/accounts/{account_id}/<path>``: a credential action, as the
    reset table (``services/identity/resets.py``) allows the caller on this account."""

    @http("POST", f"/api/accounts/<uuid:account_id>/{path}")
    def handler(self, request: Request, account_id: uuid.UUID) -> Response:
        self.auth.require(request, self.services, permission)
        body = load_body(CredentialRequestSchema(), request)
        ticket_id = str(body["ticket_id"]) if body["ticket_id"] else None
        done = self._api_identity(
            rpc, account_id=str(account_id), reason=body["reason"], ticket_id=ticket_id
        )
        done["credential_letter_pdf"] = done.pop("letter_pdf", None)
        status = 202 if done["outcome"] in {"queued", "awaiting_approval"} else 200
        return json_response(CredentialOutcomeSchema().dump(done), status, **NO_STORE)

    handler.__doc__ = f"""{summary}.
        ---
        post:
          summary: {summary}
          description: >
            Needs the permission `{permission}`, then the reset table: the help desk acts
            only on registrants' accounts (prescriber, pharmacist, delegate, law enforcement,
            data submitter, applicant) and only from an open access ticket of that account
            (`ticket_id`); staff accounts only an administrator; nobody on their own account;
            {extra} Every refusal is recorded on the account.
          security:
            - sessionToken: []{_ACCOUNT_ID}
          requestBody:
            required: true
            content:
              application/json:
                schema: CredentialRequest
          responses:
            200:
              description: Done (or, for a staff account's password, the letter to hand over).
              content:
                application/json:
                  schema: CredentialOutcome
            202:
              description: Queued for the mail room, or waiting for a second administrator.
              content:
                application/json:
                  schema: CredentialOutcome{_REFUSALS}
            409:
              description: The account's state does not allow this.
              content:
                application/problem+json:
                  schema: Problem
            422:
              description: The body is not valid.
              content:
                application/problem+json:
                  schema: ValidationProblem
        """
    return handler


_DECIDE = "/api/accounts/<uuid:account_id>/credential-requests/<uuid:request_id>/<decision>"
_SECOND = "an administrator's account only when a second administrator approves."


class AdminApi:
    def _api_identity(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("identity", method, self.settings.rpc_timeout, **kwargs)

    @http("GET", "/api/accounts")
    def api_list_accounts(self, request: Request) -> Response:
        """Search the accounts.
        ---
        get:
          summary: Accounts whose name or email contains `q`, a page at a time
          description: Needs the permission `user.view`.
          security:
            - sessionToken: []
          parameters:
            - in: query
              schema: AccountQuerySchema
          responses:
            200:
              description: One page of accounts.
              content:
                application/json:
                  schema: AccountList
            401: NotSignedIn
            403: RoleRefused
            422:
              description: A query parameter is not valid.
              content:
                application/problem+json:
                  schema: ValidationProblem
        """
        self.auth.require(request, self.services, Permission.USER_VIEW)
        query = load_data(AccountQuerySchema(), request.args.to_dict())
        found = self._api_identity(
            "list_accounts",
            query=query["q"],
            status=query["status"],
            role=query["role"],
            page=query["page"],
        )
        return json_response(AccountListSchema().dump(found))

    @http("POST", "/api/accounts")
    def api_create_account(self, request: Request) -> Response:
        """Create an account.
        ---
        post:
          summary: Create an account with a temporary password; returns its credential letter
          description: Needs the permission `user.create`.
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: NewAccount
          responses:
            201:
              description: Created; print and post the letter.
              content:
                application/json:
                  schema: CredentialLetter
            401: NotSignedIn
            403: RoleRefused
            409:
              description: The email address is already registered.
              content:
                application/problem+json:
                  schema: Problem
            422:
              description: A field is not valid.
              content:
                application/problem+json:
                  schema: ValidationProblem
        """
        self.auth.require(request, self.services, Permission.USER_CREATE)
        body = load_body(NewAccountSchema(), request)
        created = self._api_identity("create_account", **body)
        letter = {
            "account_id": created["account_id"],
            "credential_letter_pdf": created["letter_pdf"],
        }
        return json_response(CredentialLetterSchema().dump(letter), 201)

    @http("GET", "/api/accounts/<uuid:account_id>")
    def api_get_account(self, request: Request, account_id: uuid.UUID) -> Response:
        """One account's details and history.
        ---
        get:
          summary: One account as administrators see it, with its history
          description: Needs the permission `user.view`.
          security:
            - sessionToken: []
          parameters:
            - in: path
              name: account_id
              required: true
              schema:
                type: string
                format: uuid
          responses:
            200:
              description: The account.
              content:
                application/json:
                  schema: AccountDetails
            401: NotSignedIn
            403: RoleRefused
            404: NoSuchAccount
        """
        self.auth.require(request, self.services, Permission.USER_VIEW)
        details = self._api_identity("get_account", account_id=str(account_id))
        return json_response(AccountDetailsSchema().dump(details))

    api_suspend_account = _account_action(
        "suspend", "suspend_account", Permission.USER_SUSPEND, "Suspend an account"
    )
    api_reinstate_account = _account_action(
        "reinstate", "reinstate_account", Permission.USER_SUSPEND, "Reinstate a suspended account"
    )
    api_revoke_account = _account_action(
        "revoke", "revoke_account", Permission.USER_REVOKE, "Revoke an account for good"
    )
    api_remove_account = _account_action(
        "remove", "remove_account", Permission.USER_REVOKE, "Remove an account"
    )
    api_unlock_account = _credential_action(
        "unlock", "unlock_account", Permission.USER_UNLOCK, "Unlock a locked account", ""
    )
    api_reset_mfa = _credential_action(
        "reset-mfa", "reset_mfa", Permission.USER_UNLOCK, "Remove an account's authenticator",
        _SECOND,
    )  # fmt: skip
    api_issue_temporary_password = _credential_action(
        "temporary-password", "issue_temporary_password", Permission.USER_TEMPORARY_PASSWORD,
        "Issue a new temporary password",
        "a registrant's letter is queued for the mail room and posted to the address on file "
        "(never returned here); a staff member's is returned to the administrator to hand "
        "over; " + _SECOND,
    )  # fmt: skip

    @http("POST", "/api/accounts/<uuid:account_id>/role")
    def api_change_role(self, request: Request, account_id: uuid.UUID) -> Response:
        """Change an account's role.
        ---
        post:
          summary: Change an account's role; its sessions end
          description: Needs the permission `user.role_change`.
          security:
            - sessionToken: []
          parameters:
            - in: path
              name: account_id
              required: true
              schema:
                type: string
                format: uuid
          requestBody:
            required: true
            content:
              application/json:
                schema: RoleChange
          responses:
            200:
              description: Changed.
              content:
                application/json:
                  schema: AccountAction
            401: NotSignedIn
            403:
              description: Your role does not allow this, or it is your own account.
              content:
                application/problem+json:
                  schema: Problem
            404: NoSuchAccount
            409:
              description: The account already has this role, or can no longer change.
              content:
                application/problem+json:
                  schema: Problem
            422:
              description: A field is not valid.
              content:
                application/problem+json:
                  schema: ValidationProblem
        """
        self.auth.require(request, self.services, Permission.USER_ROLE_CHANGE)
        body = load_body(RoleChangeSchema(), request)
        done = self._api_identity(
            "change_role", account_id=str(account_id), role=body["role"], reason=body["reason"]
        )
        return json_response(AccountActionSchema().dump(done))

    @http("POST", "/api/accounts/<uuid:account_id>/permissions")
    def api_set_permission(self, request: Request, account_id: uuid.UUID) -> Response:
        """Grant or withdraw a permission beyond the account's role.
        ---
        post:
          summary: Grant (or withdraw) the registry to one prescriber or pharmacist
          description: >
            Needs the permission `user.role_change`. Only what the role allows granting:
            `mm_registry.verify` to prescribers and pharmacists (who do not see the
            medical marijuana registry otherwise). Recorded as PermissionGranted or
            PermissionWithdrawn on the account, with the reason.
          security:
            - sessionToken: []
          parameters:
            - in: path
              name: account_id
              required: true
              schema:
                type: string
                format: uuid
          requestBody:
            required: true
            content:
              application/json:
                schema: PermissionGrant
          responses:
            200:
              description: Done.
              content:
                application/json:
                  schema: AccountAction
            401: NotSignedIn
            403:
              description: Your role does not allow this, or it is your own account.
              content:
                application/problem+json:
                  schema: Problem
            404: NoSuchAccount
            409:
              description: The role does not allow it, or it was already so.
              content:
                application/problem+json:
                  schema: Problem
            422:
              description: A field is not valid.
              content:
                application/problem+json:
                  schema: ValidationProblem
        """
        self.auth.require(request, self.services, Permission.USER_ROLE_CHANGE)
        body = load_body(PermissionGrantSchema(), request)
        done = self._api_identity(
            "set_permission", account_id=str(account_id), permission=body["permission"],
            granted=body["granted"], reason=body["reason"],
        )  # fmt: skip
        return json_response(AccountActionSchema().dump(done))

    # -- resets of administrators: a second administrator decides -------------------------

    @http("GET", "/api/credential-requests")
    def api_credential_requests(self, request: Request) -> Response:
        """Resets of administrators waiting for a second administrator.
        ---
        get:
          summary: Pending resets of administrators (temporary password, authenticator)
          description: Needs the permission `user.reset_approve`. Lapsed requests are left out.
          security:
            - sessionToken: []
          responses:
            200:
              description: Pending requests, oldest first.
              content:
                application/json:
                  schema:
                    type: array
                    items: ResetRequest
            401: NotSignedIn
            403: RoleRefused
        """
        self.auth.require(request, self.services, Permission.USER_RESET_APPROVE)
        found = self._api_identity("credential_requests")
        return json_response(ResetRequestSchema(many=True).dump(found), **NO_STORE)

    @http("POST", _DECIDE)
    def api_decide_credential_request(
        self, request: Request, account_id: uuid.UUID, request_id: uuid.UUID, decision: str
    ) -> Response:
        """Approve or decline a reset of an administrator.
        ---
        post:
          summary: Approve (carry out) or decline another administrator's reset request
          description: >
            Needs the permission `user.reset_approve`. The administrator who asked cannot
            approve (they may decline, withdrawing it); nobody decides on their own account.
            An approved temporary password's letter is returned to the approving
            administrator, to hand over.
          security:
            - sessionToken: []
          parameters:
            - {in: path, name: account_id, required: true, schema: {type: string, format: uuid}}
            - {in: path, name: request_id, required: true, schema: {type: string, format: uuid}}
            - in: path
              name: decision
              required: true
              schema: {type: string, enum: [approve, decline]}
          requestBody:
            content:
              application/json:
                schema: ResetDecision
          responses:
            200:
              description: Decided.
              content:
                application/json:
                  schema: CredentialOutcome
            401: NotSignedIn
            403: RoleRefused
            404: NoSuchAccount
            409:
              description: No such request waiting, or it lapsed.
              content:
                application/problem+json:
                  schema: Problem
        """
        self.auth.require(request, self.services, Permission.USER_RESET_APPROVE)
        if decision not in {"approve", "decline"}:
            raise Problem(404, "Not found", "Decide with approve or decline.")
        body = load_body(ResetDecisionSchema(), request) if request.content_length else {}
        done = self._api_identity(
            "decide_credential_request", account_id=str(account_id), request_id=str(request_id),
            approve=decision == "approve", reason=body.get("reason", ""),
        )  # fmt: skip
        done["credential_letter_pdf"] = done.pop("letter_pdf", None)
        return json_response(CredentialOutcomeSchema().dump(done), **NO_STORE)

    # -- the mail room ------------------------------------------------------------------------

    @http("GET", "/api/letters")
    def api_letters(self, request: Request) -> Response:
        """The mail room's queue of credential letters.
        ---
        get:
          summary: Credential letters waiting to be printed or posted, oldest first
          description: >
            Needs the permission `letters.post` (administrators run the mail room). Each
            with the address it goes to, or null when none is on file.
          security:
            - sessionToken: []
          responses:
            200:
              description: The queue.
              content:
                application/json:
                  schema:
                    type: array
                    items: QueuedLetter
            401: NotSignedIn
            403: RoleRefused
        """
        self.auth.require(request, self.services, Permission.LETTERS_POST)
        found = self._api_identity("letters_to_post")
        return json_response(QueuedLetterSchema(many=True).dump(found), **NO_STORE)

    @http("POST", "/api/letters/<uuid:letter_id>/print")
    def api_print_letter(self, request: Request, letter_id: uuid.UUID) -> Response:
        """Print a credential letter, once.
        ---
        post:
          summary: The letter as a PDF to print; it prints once (recorded on the account)
          description: >
            Needs the permission `letters.post`. The sealed password is destroyed as the
            letter is printed: a lost print needs a new temporary password.
          security:
            - sessionToken: []
          parameters:
            - {in: path, name: letter_id, required: true, schema: {type: string, format: uuid}}
          responses:
            200:
              description: The letter, to print.
              content:
                application/pdf:
                  schema: {type: string, format: binary}
            401: NotSignedIn
            403: RoleRefused
            404:
              description: No such letter in the queue.
              content:
                application/problem+json:
                  schema: Problem
            409:
              description: Printed already, no longer in force, or no address on file.
              content:
                application/problem+json:
                  schema: Problem
        """
        self.auth.require(request, self.services, Permission.LETTERS_POST)
        printed = self._api_identity("print_letter", letter_id=str(letter_id))
        return letter_download(printed["letter_pdf"], printed["last_name"])

    @http("POST", "/api/letters/<uuid:letter_id>/posted")
    def api_letter_posted(self, request: Request, letter_id: uuid.UUID) -> Response:
        """Mark a printed letter posted.
        ---
        post:
          summary: The printed letter went in the post (recorded on the account)
          description: Needs the permission `letters.post`.
          security:
            - sessionToken: []
          parameters:
            - {in: path, name: letter_id, required: true, schema: {type: string, format: uuid}}
          responses:
            200:
              description: Posted.
              content:
                application/json:
                  schema: LetterPosted
            401: NotSignedIn
            403: RoleRefused
            404:
              description: No such letter in the queue.
              content:
                application/problem+json:
                  schema: Problem
            409:
              description: Not printed yet, or posted already.
              content:
                application/problem+json:
                  schema: Problem
        """
        self.auth.require(request, self.services, Permission.LETTERS_POST)
        done = self._api_identity("letter_posted", letter_id=str(letter_id))
        return json_response(LetterPostedSchema().dump(done), **NO_STORE)


def letter_download(pdf_base64: str, last_name: str) -> Response:
    """A credential letter as a download, named after its addressee."""
    safe = "".join(c for c in last_name if c.isalnum() or c in " -'") or "account"
    return download(
        base64.b64decode(pdf_base64), f"Credential letter - {safe}.pdf", "application/pdf"
    )
