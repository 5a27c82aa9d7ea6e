"""The JSON API for administrators: accounts, their search and the actions on them.

Every handler checks the caller's permission (``self.auth.require``) before calling a
service; the identity service checks the role again from the context data.
Handler names start with ``api_`` so they never clash with the page mixins'.
"""

from __future__ import annotations

import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.http import http
from gateway.responses import json_response
from gateway.schemas import (
    AccountActionSchema,
    AccountDetailsSchema,
    AccountListSchema,
    AccountQuerySchema,
    CredentialLetterSchema,
    NewAccountSchema,
    PermissionGrantSchema,
    ReasonSchema,
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
    api_unlock_account = _account_action(
        "unlock", "unlock_account", Permission.USER_UNLOCK, "Unlock a locked account"
    )
    api_reset_mfa = _account_action(
        "reset-mfa", "reset_mfa", Permission.USER_UNLOCK, "Remove an account's authenticator"
    )

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

    @http("POST", "/api/accounts/<uuid:account_id>/temporary-password")
    def api_issue_temporary_password(self, request: Request, account_id: uuid.UUID) -> Response:
        """Issue a new temporary password and its letter.
        ---
        post:
          summary: Issue a new temporary password; returns the credential letter
          description: Needs the permission `user.temporary_password`. The account's sessions end.
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
                schema: Reason
          responses:
            200:
              description: Issued; print and post the letter.
              content:
                application/json:
                  schema: CredentialLetter
            401: NotSignedIn
            403: RoleRefused
            404: NoSuchAccount
            409:
              description: The account is not active.
              content:
                application/problem+json:
                  schema: Problem
            422:
              description: A field is not valid.
              content:
                application/problem+json:
                  schema: ValidationProblem
        """
        self.auth.require(request, self.services, Permission.USER_TEMPORARY_PASSWORD)
        body = load_body(ReasonSchema(), request)
        issued = self._api_identity(
            "issue_temporary_password", account_id=str(account_id), reason=body["reason"]
        )
        letter = {"account_id": issued["account_id"], "credential_letter_pdf": issued["letter_pdf"]}
        return json_response(CredentialLetterSchema().dump(letter))
