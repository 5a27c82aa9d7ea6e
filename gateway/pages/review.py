"""Administrators' and supervisors' pages: the review queue, one application, decisions,
renewal policy and profile change requests."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from nameko.exceptions import RemoteError
from werkzeug.wrappers import Request, Response

from gateway.http import http
from gateway.pages.accounts import NOTICES, form_error, parse_time, redirect
from gateway.pages.registration import size_text, times
from gateway.parameters import page_number
from gateway.problems import Problem
from gateway.responses import uploaded_document
from services.identity.roles import ROLE_TITLES, Permission
from services.registration import forms

# The queue's filter, in the words an administrator reads.
QUEUE_STATUSES = {
    "submitted": "Waiting for review",
    "information_requested": "More information requested",
    "awaiting_supervisor": "Waiting for the supervisor",
    "draft": "Not yet submitted",
    "approved": "Approved",
    "rejected": "Rejected",
    "closed_incomplete": "Closed: not completed in time",
}

# action in the address -> (RPC, the field it needs or None, label, notice key)
DECISIONS: dict[str, tuple[str, str | None, str, str]] = {
    "approve": ("approve", None, "Approve", "application_approved"),
    "reject": ("reject", "reason", "Reject", "application_rejected"),
    "request-information": (
        "request_information",
        "message",
        "Request more information",
        "information_requested",
    ),
}


def actor_words(event: dict[str, Any], account_id: str) -> str:
    actor_id, actor_role = event.get("actor_id"), event.get("actor_role")
    if actor_id == account_id:
        return "The applicant"
    if actor_id == "operator":
        return "Operator (command line)"
    if actor_id:
        title = ROLE_TITLES.get(actor_role, "Staff") if actor_role else "Staff"
        return f"{title} {str(actor_id)[:8]}"
    return "System"


def history_rows(view: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for event in reversed(view.get("history", [])):
        details = dict(event.get("details", {}))
        words = []
        if "role" in details:
            words.append(ROLE_TITLES.get(details.pop("role"), "") or "")
        for key in ("reason", "message", "filename"):
            if key in details:
                words.append(str(details.pop(key)))
        if "version" in details:
            words.append(f"version {details.pop('version')}")
        if "renewal_due" in details:
            words.append(f"renewal date {details.pop('renewal_due')}")
        if details.get("kind") == "renewal":
            words.append("renewal")
        rows.append(
            {
                "when": parse_time(event["at"]),
                "what": event["title"],
                "actor": actor_words(event, view["account_id"]),
                "details": "; ".join(w for w in words if w),
            }
        )
    return rows


NOT_DONE = {
    "reject": "The application was not rejected: write the reason first.",
    "request-information": "No request was sent: write what the applicant must send first.",
}


class ReviewPages:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    def _review(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("registration", method, self.settings.rpc_timeout, **kwargs)

    # -- supervisors ---------------------------------------------------------------------------

    def _delegates_page(self, request, principal, status=200, **context) -> Response:
        requests = self._review("delegate_requests")
        for item in requests:
            item["submitted_time"] = parse_time(item.get("submitted_at"))
        return self.auth.page(
            request, "delegates.html", principal=principal, status=status,
            title="Your delegates", active="delegates", requests=requests,
            notice=NOTICES.get(request.args.get("notice", "")), **context,
        )  # fmt: skip

    @http("GET", "/delegates")
    def delegates_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.DELEGATE_SUPERVISE)
        return self._delegates_page(request, principal)

    @http("POST", "/delegates/<uuid:account_id>/<decision>")
    def decide_delegate(self, request: Request, account_id: uuid.UUID, decision: str) -> Response:
        self.auth.check_csrf(request)
        if decision not in {"approve", "decline"}:
            raise Problem(404, "Page not found", "A delegate's request is approved or declined.")
        principal = self.auth.require(request, self.services, Permission.DELEGATE_SUPERVISE)
        reason = request.form.get("reason", "").strip()
        if decision == "decline" and not reason:
            errors = {f"decline-{account_id}": "Give the reason; the delegate is told it."}
            return self._delegates_page(request, principal, status=422, errors=errors)
        try:
            self._review(
                "decide_delegate", account_id=str(account_id), approve=decision == "approve",
                reason=reason,
            )  # fmt: skip
        except RemoteError as exc:
            status, message = form_error(exc)
            return self._delegates_page(request, principal, status=status, form_error=message)
        return redirect(f"/delegates?notice=delegate_{decision}d")

    # -- the queue -----------------------------------------------------------------------------

    @http("GET", "/admin/registrations")
    def registrations_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        status = request.args.get("status", "submitted")
        status = status if status in QUEUE_STATUSES else "submitted"
        page = page_number(request)
        found = self._review("review_queue", status=status, page=page)
        for item in found["items"]:
            item["submitted_time"] = parse_time(item.get("submitted_at"))

        def page_link(number: int) -> str:
            return "/admin/registrations?" + urlencode({"status": status, "page": number})

        return self.auth.page(
            request, "review_queue.html", principal=principal, title="Registrations",
            active="registrations", found=found, status_filter=status, statuses=QUEUE_STATUSES,
            page_link=page_link,
        )  # fmt: skip

    # -- one application -----------------------------------------------------------------------

    def _application_page(
        self, request, principal, account_id: str, status=200, **context
    ) -> Response:
        view = times(self._review("get_application", account_id=account_id))
        specs = forms.fields_for(view["role"])
        known = {spec.name for spec in specs}
        extra = [(name, value) for name, value in view["form"].items() if name not in known]
        for document in view["documents"]:
            document["size_text"] = size_text(document["size"])
        decidable = view["status"] == "submitted" and account_id != principal["account_id"]
        return self.auth.page(
            request, "review_application.html", principal=principal, status=status,
            title=f"Application: {view['email']}", active="registrations", view=view,
            specs=specs, extra=extra, history=history_rows(view), decisions=DECISIONS,
            decidable=decidable, statuses=QUEUE_STATUSES,
            notice=NOTICES.get(request.args.get("notice", "")), **context,
        )  # fmt: skip

    @http("GET", "/admin/registrations/<uuid:account_id>")
    def registration_page(self, request: Request, account_id: uuid.UUID) -> Response:
        principal = self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        return self._application_page(request, principal, str(account_id))

    @http("POST", "/admin/registrations/<uuid:account_id>/<action>")
    def registration_decision(
        self, request: Request, account_id: uuid.UUID, action: str
    ) -> Response:
        self.auth.check_csrf(request)
        if action not in DECISIONS:
            raise Problem(404, "Page not found", "There is no such decision on an application.")
        principal = self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        method, needs, label, notice = DECISIONS[action]
        account_id = str(account_id)
        kwargs: dict[str, Any] = {"account_id": account_id}
        if needs:
            text = request.form.get(needs, "").strip()
            if not text:
                what = "the reason" if needs == "reason" else "what the applicant must send"
                errors = {f"{action}-{needs}": f"Write {what}; the applicant is emailed it."}
                return self._application_page(
                    request, principal, account_id, status=422, errors=errors,
                    error=NOT_DONE[action],
                )  # fmt: skip
            kwargs[needs] = text
        try:
            self._review(method, **kwargs)
        except RemoteError as exc:
            status, message = form_error(exc)
            return self._application_page(
                request, principal, account_id, status=status, error=message
            )
        return redirect(f"/admin/registrations/{account_id}?notice={notice}")

    @http("GET", "/admin/registrations/<uuid:account_id>/documents/<uuid:document_id>")
    def registration_document(
        self, request: Request, account_id: uuid.UUID, document_id: uuid.UUID
    ) -> Response:
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        found = self._review("document", account_id=str(account_id), document_id=str(document_id))
        return uploaded_document(found)

    # -- renewal policy ------------------------------------------------------------------------

    def _policy_page(self, request, principal, status=200, **context) -> Response:
        policy = self._review("renewal_policy")
        groups = [(str(r), ROLE_TITLES[r]) for r in forms.APPLICABLE_ROLES]
        context.setdefault("values", {role: str(y) for role, y in policy["years"].items()})
        return self.auth.page(
            request, "renewal_policy.html", principal=principal, status=status,
            title="Renewal periods", active="registrations", groups=groups, policy=policy,
            notice=NOTICES.get(request.args.get("notice", "")), **context,
        )  # fmt: skip

    @http("GET", "/admin/renewal-policy")
    def renewal_policy_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        return self._policy_page(request, principal)

    @http("POST", "/admin/renewal-policy")
    def renewal_policy(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        current = self._review("renewal_policy")["years"]
        values, wanted, errors = {}, {}, {}
        for role in (str(r) for r in forms.APPLICABLE_ROLES):
            text = request.form.get(f"years_{role}", "").strip()
            values[role] = text
            if not text.isdigit() or not 1 <= int(text) <= 10:
                errors[f"years_{role}"] = "Enter a whole number of years from 1 to 10."
            elif int(text) != current.get(role):
                wanted[role] = int(text)
        if errors:
            return self._policy_page(request, principal, status=422, values=values, errors=errors)
        try:
            for role, years in wanted.items():
                self._review("set_renewal_years", role=role, years=years)
        except RemoteError as exc:
            status, message = form_error(exc)
            return self._policy_page(
                request, principal, status=status, values=values, form_error=message
            )
        return redirect("/admin/renewal-policy?notice=renewal_saved")

    # -- profile changes -----------------------------------------------------------------------

    def _profile_changes_page(self, request, principal, status=200, **context) -> Response:
        rows = []
        for item in self._review("profile_changes"):
            view = self._review("get_application", account_id=item["account_id"])
            change = view.get("profile_change") or {}
            labels = {
                s.name: s.label
                for s in forms.fields_for(view["role"])
                if s.name in forms.PROFILE_FIELDS
            }
            rows.append(
                {
                    **item,
                    "requested_time": parse_time(change.get("requested_at")),
                    "changes": [
                        (labels.get(name, name), view["form"].get(name, ""), value)
                        for name, value in (change.get("changes") or {}).items()
                    ],
                }
            )
        return self.auth.page(
            request, "profile_changes.html", principal=principal, status=status,
            title="Profile change requests", active="registrations", rows=rows,
            notice=NOTICES.get(request.args.get("notice", "")), **context,
        )  # fmt: skip

    @http("GET", "/admin/profile-changes")
    def profile_changes_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        return self._profile_changes_page(request, principal)

    @http("POST", "/admin/profile-changes/<uuid:account_id>/<decision>")
    def profile_change_decision(
        self, request: Request, account_id: uuid.UUID, decision: str
    ) -> Response:
        self.auth.check_csrf(request)
        if decision not in {"approve", "reject"}:
            raise Problem(404, "Page not found", "A profile change is approved or rejected.")
        principal = self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        reason = request.form.get("reason", "").strip()
        if decision == "reject" and not reason:
            errors = {f"reject-{account_id}": "Give the reason; the user is told it."}
            return self._profile_changes_page(request, principal, status=422, errors=errors)
        try:
            self._review(
                "decide_profile_change", account_id=str(account_id),
                approve=decision == "approve", reason=reason,
            )  # fmt: skip
        except RemoteError as exc:
            status, message = form_error(exc)
            return self._profile_changes_page(request, principal, status=status, form_error=message)
        done = "approved" if decision == "approve" else "rejected"
        return redirect(f"/admin/profile-changes?notice=profile_change_{done}")
