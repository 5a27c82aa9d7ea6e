"""Credential resets on the pages: which actions to offer (the reset table of
``services/identity/resets.py``, the one identity enforces), the administrators' approvals
list for resets of administrators, and the mail room's queue of letters to post."""

from __future__ import annotations

import uuid
from typing import Any

from nameko.exceptions import RemoteError
from werkzeug.wrappers import Request, Response

from gateway.api.admin import letter_download
from gateway.http import http
from gateway.pages.accounts import form_error, redirect
from gateway.problems import Problem
from services.identity.domain import ACTIVE, REMOVED
from services.identity.resets import ACTION_PERMISSIONS, CredentialAction, Ruling, ruling
from services.identity.roles import Permission

# action in the address -> the table's action
PAGE_ACTIONS = {
    "unlock": CredentialAction.UNLOCK,
    "reset-mfa": CredentialAction.RESET_MFA,
    "temporary-password": CredentialAction.TEMPORARY_PASSWORD,
}


def _possible(account: dict[str, Any], action: str) -> bool:
    """Whether the account's state lets ``action`` do anything."""
    status = account["status"]
    if action == "unlock":
        return status != REMOVED and (account["locked"] or account["failed_attempts"] > 0)
    if action == "reset-mfa":
        return status != REMOVED and account["mfa_enrolled"]
    return status == ACTIVE


def credential_rulings(principal: dict[str, Any], account: dict[str, Any]) -> dict[str, Ruling]:
    """Each credential action the viewer may take on the account now, with the table's
    ruling (never a refusal)."""
    found = {}
    for action, table_action in PAGE_ACTIONS.items():
        if ACTION_PERMISSIONS[table_action] not in principal["permissions"]:
            continue
        own = principal["account_id"] == account["account_id"]
        ruled = ruling(principal["role"], account["role"], table_action, own)
        if ruled is not Ruling.REFUSED and _possible(account, action):
            found[action] = ruled
    return found


def user_page_actions(principal: dict[str, Any], account: dict[str, Any]) -> dict[str, Ruling]:
    """The credential actions for the user's page: those needing a ticket are taken from
    the access ticket's page instead."""
    rulings = credential_rulings(principal, account)
    return {a: r for a, r in rulings.items() if r is not Ruling.NEEDS_TICKET}


def ticket_actions(principal: dict[str, Any], account: dict[str, Any]) -> list[str]:
    """The credential actions to offer on an open access ticket of ``account``."""
    rulings = credential_rulings(principal, account)
    return [a for a, r in rulings.items() if r in {Ruling.ALLOWED, Ruling.NEEDS_TICKET}]


class CredentialPages:
    """Mixin of the gateway service: approvals and the mail room."""

    def _credentials(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("identity", method, self.settings.rpc_timeout, **kwargs)

    # -- approvals ------------------------------------------------------------------------------

    @http("GET", "/admin/approvals")
    def approvals_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.USER_RESET_APPROVE)
        return self._approvals_page(request, principal)

    def _approvals_page(self, request, principal, status=200, error="", letter=None):
        pending = self._credentials("credential_requests")
        notice = {"approve": "Approved and carried out.", "decline": "Declined."}.get(
            request.args.get("done", ""), ""
        )
        return self.auth.page(
            request, "approvals.html", principal, status, title="Resets to approve",
            active="approvals", pending=pending, error=error, notice=notice,
        )  # fmt: skip

    @http("POST", "/admin/approvals/<uuid:account_id>/<uuid:request_id>/<decision>")
    def decide_approval(
        self, request: Request, account_id: uuid.UUID, request_id: uuid.UUID, decision: str
    ) -> Response:
        self.auth.check_csrf(request)
        principal = self.auth.require(request, self.services, Permission.USER_RESET_APPROVE)
        if decision not in {"approve", "decline"}:
            raise Problem(404, "Page not found", "Decide with approve or decline.")
        try:
            done = self._credentials(
                "decide_credential_request", account_id=str(account_id),
                request_id=str(request_id), approve=decision == "approve",
                reason=request.form.get("reason", "").strip(),
            )  # fmt: skip
        except RemoteError as exc:
            status, message = form_error(exc)
            return self._approvals_page(request, principal, status, error=message)
        if done.get("letter_pdf"):  # an administrator's letter: for the approver to hand over
            account = self._credentials("get_account", account_id=str(account_id))
            return letter_download(done["letter_pdf"], account["last_name"])
        return redirect(f"/admin/approvals?done={decision}")

    # -- the mail room -----------------------------------------------------------------------

    @http("GET", "/admin/letters")
    def letters_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.LETTERS_POST)
        return self._letters_page(request, principal)

    def _letters_page(self, request, principal, status=200, error=""):
        letters = self._credentials("letters_to_post")
        notice = {"posted": "Marked as posted."}.get(request.args.get("done", ""), "")
        return self.auth.page(
            request, "letters.html", principal, status, title="Letters to post",
            active="letters", letters=letters, error=error, notice=notice,
        )  # fmt: skip

    @http("POST", "/admin/letters/<uuid:letter_id>/<action>")
    def letter_action(self, request: Request, letter_id: uuid.UUID, action: str) -> Response:
        self.auth.check_csrf(request)
        principal = self.auth.require(request, self.services, Permission.LETTERS_POST)
        if action not in {"print", "posted"}:
            raise Problem(404, "Page not found", "Print a letter, or mark it posted.")
        try:
            if action == "print":
                printed = self._credentials("print_letter", letter_id=str(letter_id))
                return letter_download(printed["letter_pdf"], printed["last_name"])
            self._credentials("letter_posted", letter_id=str(letter_id))
        except RemoteError as exc:
            status, message = form_error(exc)
            return self._letters_page(request, principal, status, error=message)
        return redirect("/admin/letters?done=posted")
