"""Applicants' pages: signing up (the address first, then the password from the emailed
link), the application checklist and each of its steps."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime
from typing import Any

from nameko.exceptions import RemoteError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from gateway.auth import client_address
from gateway.http import http
from gateway.pages.accounts import (
    NOTICES,
    form_error,
    parse_time,
    password_problems,
    redirect,
)
from gateway.responses import download, uploaded_document
from pmp.documents import MAX_BYTES
from services.identity.roles import ROLE_TITLES, Permission
from services.registration import forms

# The gateway refuses a larger request before reading it: the 10 MB file plus the form around it.
MAX_UPLOAD_REQUEST = 11 * 1024 * 1024
TOO_LARGE = (
    "The file is larger than 10 MB, the limit. Scan it at a lower resolution, or send it in parts."
)

DOCUMENT_DESCRIPTIONS = (
    "Government photo ID",
    "Professional license",
    "DEA registration",
    "Other",
)

ROLE_HINTS = {
    "prescriber": "A physician, dentist, APRN or other practitioner with a controlled substance "
    "registration (CSP).",
    "pharmacist": "A pharmacist licensed in the state.",
    "law_enforcement": "A sworn officer searching prescription records for an active case.",
    "law_enforcement_mm": "An officer who only verifies medical marijuana registry cards.",
    "delegate": "Staff who search on behalf of a prescriber or pharmacist, who approves "
    "your access.",
}

ENDED = {"rejected", "closed_incomplete"}
RENEWAL_WINDOW_DAYS = 60  # the first renewal reminder goes out this many days before


def times(view: dict[str, Any]) -> dict[str, Any]:
    """The view's ISO times as datetimes, for the ``local_time`` filter."""
    for key in ("verification_sent_at", "started_at", "submitted_at", "decided_at", "approved_at"):
        view[key.removesuffix("_at") + "_time"] = parse_time(view.get(key))
    if view.get("agreement"):
        view["agreement"]["accepted_time"] = parse_time(view["agreement"].get("accepted_at"))
    for document in view.get("documents", []):
        document["uploaded_time"] = parse_time(document.get("uploaded_at"))
    if view.get("profile_change"):
        view["profile_change"]["requested_time"] = parse_time(
            view["profile_change"].get("requested_at")
        )
    return view


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


class RegistrationPages:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    # -- helpers -------------------------------------------------------------------------------

    def _registration(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("registration", method, self.settings.rpc_timeout, **kwargs)

    def _applicant(self, request: Request) -> dict[str, Any]:
        return self.auth.require(request, self.services, Permission.REGISTRATION_APPLY)

    def _mine(self) -> dict[str, Any] | None:
        view = self._registration("my_registration")
        return times(view) if view else None

    def _notice(self, request: Request) -> str | None:
        return NOTICES.get(request.args.get("notice", ""))

    # -- signing up ----------------------------------------------------------------------------

    def _register_form(self, request, principal=None, status=200, **context) -> Response:
        context.setdefault("email", "")
        return self.auth.page(
            request, "register.html", principal=principal, status=status,
            title="Register for access", active="register", **context,
        )  # fmt: skip

    @http("GET", "/register")
    def register_page(self, request: Request) -> Response:
        principal = self.auth.principal(request, self.services)
        if principal is not None and Permission.REGISTRATION_APPLY in principal["permissions"]:
            return redirect("/application")
        return self._register_form(request, principal)

    @http("POST", "/register")
    def register(self, request: Request) -> Response:
        """The same next page whether or not an account has the address: the address gets
        the link to go on, or a notice (identity's ``sign_up``). Too many asked: the error
        page, 429 with Retry-After."""
        self.auth.check_csrf(request)
        email = request.form.get("email", "").strip()
        if "@" not in email or " " in email:
            return self._register_form(
                request, status=422, email=email,
                errors={"email": "Enter your email address, like name@example.org."},
            )  # fmt: skip
        try:
            self._call("sign_up", email=email, client=client_address(request))
        except RemoteError as exc:
            if exc.exc_type != "AccountError":
                raise
            message = str(exc.value).removeprefix("email: ")
            return self._register_form(request, status=422, email=email, errors={"email": message})
        return redirect("/register/sent")

    @http("GET", "/register/sent")
    def register_sent_page(self, request: Request) -> Response:
        principal = self.auth.principal(request, self.services)
        return self.auth.page(
            request, "register_sent.html", principal=principal, title="Check your email",
            active="register",
        )  # fmt: skip

    def _confirm_form(self, request, link, status=200, **context) -> Response:
        principal = self.auth.principal(request, self.services)
        try:
            email = self._call("sign_up_address", link=link)
        except RemoteError as exc:
            status, message = form_error(exc)
            return self.auth.page(
                request, "register_confirm.html", principal=principal, status=status,
                title="The link does not work", link_error=message,
            )  # fmt: skip
        return self.auth.page(
            request, "register_confirm.html", principal=principal, status=status,
            title="Choose your password", active="register", email=email, rules=self._rules(),
            **context,
        )  # fmt: skip

    @http("GET", "/register/confirm/<path:link>")
    def register_confirm_page(self, request: Request, link: str) -> Response:
        return self._confirm_form(request, link)

    @http("POST", "/register/confirm/<path:link>")
    def register_confirm(self, request: Request, link: str) -> Response:
        self.auth.check_csrf(request)
        password = request.form.get("password", "")
        confirm = request.form.get("confirm_password", "")
        errors: dict[str, Any] = {}
        if not password:
            errors["password"] = "Choose a password."
        elif password != confirm:
            errors["confirm_password"] = "The two passwords are not the same. Type it again."
        if errors:
            return self._confirm_form(request, link, status=422, errors=errors)
        try:
            signed_up = self._call(
                "complete_sign_up", link=link, password=password, client=client_address(request)
            )
        except RemoteError as exc:
            status, message = form_error(exc)
            if exc.exc_type == "PasswordRejected":
                errors["password"] = password_problems(message)
                return self._confirm_form(request, link, status=status, errors=errors)
            return self._confirm_form(request, link, status=status, form_error=message)
        response = redirect("/application/role")
        self.auth.forget(self.auth.token(request))
        self.auth.start_session(request, response, signed_up["token"])
        return response

    @http("GET", "/register/verify/<path:link>")
    def verify_email_page(self, request: Request, link: str) -> Response:
        principal = self.auth.principal(request, self.services)
        try:
            self._registration("verify_email", link=link)
        except RemoteError as exc:
            status, message = form_error(exc)
            return self.auth.page(
                request, "verify_email.html", principal=principal, status=status,
                title="The link does not work", link_error=message,
            )  # fmt: skip
        return self.auth.page(
            request, "verify_email.html", principal=principal, title="Email address verified"
        )

    # -- the checklist -------------------------------------------------------------------------

    def _hub(self, request, principal, view, status=200, **context) -> Response:
        days_left = None
        if view["status"] == "approved" and view.get("renewal_due"):
            today = datetime.now(UTC).astimezone(self.settings.timezone).date()
            days_left = (date.fromisoformat(view["renewal_due"]) - today).days
        return self.auth.page(
            request, "application.html", principal=principal, status=status,
            title="Your application", active="application", view=view,
            notice=self._notice(request), days_left=days_left,
            renewal_near=days_left is not None and days_left <= RENEWAL_WINDOW_DAYS, **context,
        )  # fmt: skip

    @http("GET", "/application")
    def application_page(self, request: Request) -> Response:
        principal = self._applicant(request)
        view = self._mine()
        if view is None:
            return redirect("/application/role")
        return self._hub(request, principal, view)

    def _role_form(self, request, principal, view, status=200, **context) -> Response:
        roles = [(str(r), ROLE_TITLES[r], ROLE_HINTS[str(r)]) for r in forms.APPLICABLE_ROLES]
        context.setdefault("selected", view["role"] if view else "")
        return self.auth.page(
            request, "application_role.html", principal=principal, status=status,
            title="Choose your role", active="application", roles=roles, view=view, **context,
        )  # fmt: skip

    @http("GET", "/application/role")
    def application_role_page(self, request: Request) -> Response:
        principal = self._applicant(request)
        return self._role_form(request, principal, self._mine())

    @http("POST", "/application/role")
    def application_role(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self._applicant(request)
        view = self._mine()
        role = request.form.get("role", "")
        if role not in {str(r) for r in forms.APPLICABLE_ROLES}:
            return self._role_form(
                request, principal, view, status=422, selected=role,
                errors={"role-prescriber": "Choose the role you are applying for."},
            )  # fmt: skip
        try:
            if view is None or view["status"] in ENDED:
                self._registration("start_application", email=principal["email"], role=role)
                return redirect("/application?notice=verification_sent")
            if role != view["role"]:
                self._registration("choose_role", role=role)
                return redirect("/application?notice=role_changed")
        except RemoteError as exc:
            status, message = form_error(exc)
            return self._role_form(
                request, principal, view, status=status, selected=role, form_error=message
            )
        return redirect("/application")

    def _hub_action(self, request: Request, rpc: str, notice: str) -> Response:
        """A button on the checklist: do it, then back to the checklist with a notice, or
        with the reason it could not be done."""
        self.auth.check_csrf(request)
        principal = self._applicant(request)
        try:
            self._registration(rpc)
        except RemoteError as exc:
            status, message = form_error(exc)
            view = self._mine()
            if view is None:
                return redirect("/application/role")
            return self._hub(request, principal, view, status=status, form_error=message)
        return redirect(f"/application?notice={notice}")

    @http("POST", "/application/verification")
    def resend_verification(self, request: Request) -> Response:
        return self._hub_action(request, "resend_verification", "verification_sent")

    @http("POST", "/application/submit")
    def submit_application(self, request: Request) -> Response:
        return self._hub_action(request, "submit", "application_submitted")

    @http("POST", "/application/renew")
    def renew_application(self, request: Request) -> Response:
        return self._hub_action(request, "start_renewal", "renewal_started")

    @http("GET", "/application/confirmation.pdf")
    def confirmation_pdf(self, request: Request) -> Response:
        self._applicant(request)
        if self._mine() is None:
            return redirect("/application/role")
        pdf = base64.b64decode(self._registration("confirmation_pdf"))
        return download(pdf, "Registration confirmation.pdf", "application/pdf")

    # -- the form ------------------------------------------------------------------------------

    def _form_page(self, request, principal, view, status=200, **context) -> Response:
        specs = forms.fields_for(view["role"])
        context.setdefault("values", dict(view["form"]))
        context.setdefault("chosen", ["", "", ""])
        context.setdefault("answers", ["", "", ""])
        return self.auth.page(
            request, "application_form.html", principal=principal, status=status,
            title="Registration form", active="application", view=view, specs=specs,
            questions=self._call("security_questions"), **context,
        )  # fmt: skip

    @http("GET", "/application/form")
    def application_form_page(self, request: Request) -> Response:
        principal = self._applicant(request)
        view = self._mine()
        if view is None:
            return redirect("/application/role")
        return self._form_page(request, principal, view)

    @http("POST", "/application/form")
    def application_form(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self._applicant(request)
        view = self._mine()
        if view is None:
            return redirect("/application/role")
        specs = forms.fields_for(view["role"])
        values = {spec.name: request.form.get(spec.name, "") for spec in specs}
        clean, errors = forms.validate_form(view["role"], values)
        errors = dict(errors)
        errors.pop(forms.FORM_ERROR, None)
        chosen = [request.form.get(f"question_{i}", "") for i in range(3)]
        answers = [request.form.get(f"answer_{i}", "") for i in range(3)]
        questions_needed = not principal.get("security_questions_set") or any(
            c or a.strip() for c, a in zip(chosen, answers, strict=True)
        )
        if questions_needed:
            for i in range(3):
                if not chosen[i]:
                    errors[f"question_{i}"] = f"Choose security question {i + 1}."
                elif chosen[i] in chosen[:i]:
                    errors[f"question_{i}"] = "Choose a question you have not already chosen."
                if len(answers[i].strip()) < 2:
                    errors[f"answer_{i}"] = (
                        f"Answer security question {i + 1}: at least two letters or digits."
                    )
        keep = {"values": values, "chosen": chosen, "answers": answers}
        if errors:
            return self._form_page(request, principal, view, status=422, errors=errors, **keep)
        try:
            self._registration("save_form", form=clean)
        except RemoteError as exc:
            status, message = form_error(exc)
            known, rest = {}, message
            if exc.exc_type == "FormInvalid":
                known = forms.errors_in(message, set(values))
                rest = known.pop(forms.FORM_ERROR, None)
            return self._form_page(
                request, principal, view, status=status, errors=known, form_error=rest, **keep
            )
        if questions_needed:
            token = self.auth.token(request) or ""
            try:
                self._call("set_security_questions", token=token, questions=chosen, answers=answers)
            except RemoteError as exc:
                status, message = form_error(exc)
                return self._form_page(
                    request, principal, self._mine() or view, status=status,
                    form_error=f"Your form was saved, but not your security questions: {message}",
                    **keep,
                )  # fmt: skip
            self.auth.forget(token)
        return redirect("/application?notice=form_saved")

    # -- documents -----------------------------------------------------------------------------

    def _documents_page(self, request, principal, view, status=200, **context) -> Response:
        for document in view["documents"]:
            document["size_text"] = size_text(document["size"])
        return self.auth.page(
            request, "application_documents.html", principal=principal, status=status,
            title="Supporting documents", active="application", view=view,
            descriptions=DOCUMENT_DESCRIPTIONS, notice=self._notice(request),
            max_mb=MAX_BYTES // (1024 * 1024), **context,
        )  # fmt: skip

    @http("GET", "/application/documents")
    def application_documents_page(self, request: Request) -> Response:
        principal = self._applicant(request)
        view = self._mine()
        if view is None:
            return redirect("/application/role")
        return self._documents_page(request, principal, view)

    @http("POST", "/application/documents")
    def upload_document(self, request: Request) -> Response:
        too_large = (request.content_length or 0) > MAX_UPLOAD_REQUEST
        request.max_content_length = MAX_UPLOAD_REQUEST  # never read more than this
        principal = self._applicant(request)
        view = self._mine()
        if view is None:
            return redirect("/application/role")
        if too_large:
            return self._documents_page(
                request, principal, view, status=413, errors={"file": TOO_LARGE}
            )
        try:
            self.auth.check_csrf(request)
            upload = request.files.get("file")
        except RequestEntityTooLarge:
            return self._documents_page(
                request, principal, view, status=413, errors={"file": TOO_LARGE}
            )
        description = request.form.get("description", "")
        errors = {}
        if description not in DOCUMENT_DESCRIPTIONS:
            errors["description"] = "Choose what the document is."
        if upload is None or not upload.filename:
            errors["file"] = "Choose a file to upload: a PDF, JPEG or PNG of up to 10 MB."
        if errors:
            return self._documents_page(
                request, principal, view, status=422, errors=errors, description=description
            )
        content = upload.read(MAX_BYTES + 1)
        try:
            self._registration(
                "attach_document", filename=upload.filename,
                content=base64.b64encode(content).decode(), description=description,
            )  # fmt: skip
        except RemoteError as exc:
            status, message = form_error(exc)
            key = "file" if exc.exc_type == "DocumentRejected" else None
            return self._documents_page(
                request, principal, view, status=status, description=description,
                errors={key: message} if key else {}, form_error=None if key else message,
            )  # fmt: skip
        return redirect("/application/documents?notice=document_uploaded")

    @http("POST", "/application/documents/<uuid:document_id>/remove")
    def remove_document(self, request: Request, document_id: uuid.UUID) -> Response:
        self.auth.check_csrf(request)
        principal = self._applicant(request)
        try:
            self._registration("remove_document", document_id=str(document_id))
        except RemoteError as exc:
            status, message = form_error(exc)
            view = self._mine()
            if view is None:
                return redirect("/application/role")
            return self._documents_page(request, principal, view, status=status, form_error=message)
        return redirect("/application/documents?notice=document_removed")

    @http("GET", "/application/documents/<uuid:document_id>")
    def my_document(self, request: Request, document_id: uuid.UUID) -> Response:
        principal = self._applicant(request)
        found = self._registration(
            "document", account_id=principal["account_id"], document_id=str(document_id)
        )
        return uploaded_document(found)

    # -- the agreement -------------------------------------------------------------------------

    def _agreement_page(self, request, principal, view, status=200, **context) -> Response:
        return self.auth.page(
            request, "application_agreement.html", principal=principal, status=status,
            title="User Agreement", active="application", view=view,
            agreement=self._registration("agreement"), **context,
        )  # fmt: skip

    @http("GET", "/application/agreement")
    def application_agreement_page(self, request: Request) -> Response:
        principal = self._applicant(request)
        view = self._mine()
        if view is None:
            return redirect("/application/role")
        return self._agreement_page(request, principal, view)

    @http("POST", "/application/agreement")
    def application_agreement(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self._applicant(request)
        view = self._mine()
        if view is None:
            return redirect("/application/role")
        errors = {}
        if not request.form.get("accept_agreement"):
            errors["accept_agreement"] = "Tick the box to accept the User Agreement."
        if not request.form.get("accept_responsibilities"):
            errors["accept_responsibilities"] = "Tick the box to accept the user responsibilities."
        if errors:
            return self._agreement_page(request, principal, view, status=422, errors=errors)
        try:
            self._registration(
                "accept_agreement",
                version=request.form.get("version", ""),
                client=client_address(request),
            )
        except RemoteError as exc:
            status, message = form_error(exc)
            if exc.exc_type == "AgreementOutdated":
                message += " Read the current text below and accept it again."
            return self._agreement_page(request, principal, view, status=status, form_error=message)
        return redirect("/application?notice=agreement_accepted")

    # -- after approval ------------------------------------------------------------------------

    def _profile_page(self, request, principal, view, status=200, **context) -> Response:
        specs = (
            [s for s in forms.fields_for(view["role"]) if s.name in forms.PROFILE_FIELDS]
            if view
            else []
        )
        context.setdefault("values", dict(view["form"]) if view else {})
        return self.auth.page(
            request, "profile_change.html", principal=principal, status=status,
            title="Change your profile", active="account", view=view, specs=specs, **context,
        )  # fmt: skip

    @http("GET", "/account/profile-change")
    def profile_change_page(self, request: Request) -> Response:
        principal = self._applicant(request)
        return self._profile_page(request, principal, self._mine())

    @http("POST", "/account/profile-change")
    def profile_change(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self._applicant(request)
        view = self._mine()
        if view is None or view["status"] != "approved":
            return self._profile_page(
                request, principal, view, status=409,
                form_error="You can ask for a profile change once your registration is approved.",
            )  # fmt: skip
        values = {name: request.form.get(name, "").strip() for name in forms.PROFILE_FIELDS}
        changes = {k: v for k, v in values.items() if v != (view["form"].get(k) or "")}
        if not changes:
            return self._profile_page(
                request, principal, view, status=422, values=values,
                form_error="Nothing was changed: change at least one of the fields below.",
            )  # fmt: skip
        clean, errors = forms.validate_profile_change(changes)
        if errors:
            rest = errors.pop(forms.FORM_ERROR, None)
            return self._profile_page(
                request, principal, view, status=422, values=values, errors=errors,
                form_error=rest,
            )  # fmt: skip
        try:
            self._registration("request_profile_change", changes=clean)
        except RemoteError as exc:
            status, message = form_error(exc)
            known = forms.errors_in(message, set(values))
            rest = known.pop(forms.FORM_ERROR, None)
            return self._profile_page(
                request, principal, view, status=status, values=values, errors=known,
                form_error=rest,
            )  # fmt: skip
        return redirect("/application?notice=profile_change_requested")
