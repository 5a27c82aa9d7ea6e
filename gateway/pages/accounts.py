"""Pages for signing in and out, the sign-in steps, password changes and resets, and the
signed-in user's own account."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import segno
from nameko.exceptions import RemoteError
from werkzeug.wrappers import Request, Response

from gateway.auth import STEP_PAGES, client_address
from gateway.http import http
from gateway.redirects import site_path
from pmp.ratelimit import retry_after
from services.identity.domain import CHANGE_PASSWORD, ENROL_MFA, MFA, READY
from services.identity.mfa import provisioning_uri
from services.identity.roles import Permission

# Status codes for the errors a form shows next to its fields; anything else is a real error.
FORM_ERRORS = {
    "PasswordRejected": 422,
    "CodeRejected": 422,
    "SignInRefused": 401,
    "TooManyAttempts": 429,
    "AccountError": 422,
    "AccountStateConflict": 409,
    "EmailTaken": 409,
    "EventValidationError": 422,
    "ValidationError": 422,
    "NotAuthorized": 403,
    "ConcurrencyError": 409,
    "FormInvalid": 422,
    "DocumentRejected": 422,
    "LinkInvalid": 422,
    "ApplicationIncomplete": 422,
    "AgreementOutdated": 409,
    "ApplicationStateConflict": 409,
    "RegistrationError": 422,
    "DecisionRefused": 422,
}

# Notices a page shows after a redirect, chosen by key so no text comes from the address.
NOTICES = {
    "password_changed": "Your password has been changed.",
    "questions_saved": "Your security questions have been saved.",
    "mfa_enrolled": "Your authenticator app is set up.",
    "verification_sent": "We have sent you an email with a link. Open it to confirm your "
    "email address; the link works once and expires.",
    "role_changed": "Your role was changed. Fill in the registration form for it.",
    "form_saved": "Your registration form has been saved.",
    "document_uploaded": "Your document has been uploaded.",
    "document_removed": "The document has been removed.",
    "agreement_accepted": "You have accepted the User Agreement.",
    "application_submitted": "Your application has been submitted. We will email you when "
    "it has been reviewed.",
    "renewal_started": "Your renewal has started: check your form and accept the User "
    "Agreement again, then submit.",
    "profile_change_requested": "Your profile change was sent to an administrator for approval.",
    "application_approved": "The application was approved. The applicant has been emailed "
    "and can now sign in with their role.",
    "application_rejected": "The application was rejected. The applicant has been emailed the "
    "reason.",
    "information_requested": "The applicant has been emailed your request; the application "
    "is open to them again.",
    "delegate_approved": "You approved the delegate. An administrator reviews the application "
    "next.",
    "delegate_declined": "You declined the delegate's request; they have been told why.",
    "renewal_saved": "The renewal periods have been saved; renewal dates were recalculated.",
    "profile_change_approved": "The profile change was approved.",
    "profile_change_rejected": "The profile change was rejected.",
}


def form_error(exc: RemoteError) -> tuple[int, str]:
    """The status and message to show on a form for ``exc``; re-raise anything else."""
    status = FORM_ERRORS.get(exc.exc_type)
    if status is None:
        raise exc
    return status, str(exc.value)


def password_problems(message: str) -> list[str]:
    """``PasswordRejected``'s message, one broken rule per item ("must contain a digit")."""
    problems: list[str] = []
    for part in message.removeprefix("The password ").rstrip(".").split("; "):
        if problems and not part.startswith(("must", "is", "you")):
            problems[-1] += f"; {part}"  # a rule's own advice, not a rule
        elif part:
            problems.append(part)
    return problems


def stage_page(principal: dict[str, Any]) -> str:
    return STEP_PAGES.get(principal["stage"], "/account")


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def redirect(location: str) -> Response:
    return Response(status=303, headers={"Location": location})


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG, without style attributes (the CSP blocks them)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=6, border=4, svgclass="qr", lineclass="qr-line", title="QR code for your app"
    )
    svg = re.sub(r'\s+style="[^"]*"', "", svg)
    return svg.replace("<svg ", '<svg role="img" aria-label="QR code for your app" ', 1)


def group_secret(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


class AccountPages:
    # -- helpers ---------------------------------------------------------------------------

    def _call(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("identity", method, self.settings.rpc_timeout, **kwargs)

    def _at_step(self, request: Request, *steps: str) -> dict[str, Any]:
        """The principal if it is at one of ``steps``, else a redirect to where it should be."""
        principal = self.auth.principal(request, self.services)
        if principal is not None and principal["stage"] in steps:
            return principal
        return self.auth.require(request, self.services, step=steps[0])

    def _token(self, request: Request) -> str:
        return self.auth.token(request) or ""

    # -- signing in and out ----------------------------------------------------------------

    @http("GET", "/login")
    def login_page(self, request: Request) -> Response:
        principal = self.auth.principal(request, self.services)
        notice = None
        if request.args.get("signed_out"):
            notice = "You have signed out."
        elif request.args.get("reset"):
            notice = "Your password has been reset. Sign in with your new password."
        elif principal is not None:
            notice = f"You are already signed in as {principal['name']}."
        return self._login_form(request, principal, notice=notice)

    def _login_form(self, request, principal=None, status=200, **context) -> Response:
        context.setdefault("email", "")
        wanted = request.values.get("next")
        context.setdefault("next", site_path(wanted) if wanted else "")
        return self.auth.page(
            request, "login.html", principal=principal, status=status, title="Sign in",
            active="login", **context,
        )  # fmt: skip

    @http("POST", "/login")
    def login(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        email = request.form.get("email", "").strip()
        password = request.form.get("password", "")
        errors = {}
        if not email:
            errors["email"] = "Enter your email address."
        if not password:
            errors["password"] = "Enter your password."
        if errors:
            return self._login_form(request, status=422, email=email, errors=errors)
        try:
            signed_in = self._call(
                "sign_in", email=email, password=password, client=client_address(request)
            )
        except RemoteError as exc:
            status, message = form_error(exc)
            shown = self._login_form(request, status=status, email=email, form_error=message)
            if status == 429 and (wait := retry_after(message)) is not None:
                shown.headers["Retry-After"] = str(wait)  # as the API's 429 says it
            return shown
        principal = signed_in["principal"]
        target = stage_page(principal)
        if principal["stage"] == READY and Permission.PATIENT_SEARCH in principal["permissions"]:
            target = "/search"
        wanted = request.values.get("next")
        if wanted and principal["stage"] == READY:
            target = site_path(wanted)
        response = redirect(target)
        self.auth.forget(self.auth.token(request))
        self.auth.start_session(request, response, signed_in["token"])
        return response

    @http("GET", "/login/mfa")
    def mfa_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, step=MFA)
        return self.auth.page(
            request, "login_mfa.html", principal=principal, title="Enter your code"
        )

    @http("POST", "/login/mfa")
    def mfa_submit(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self.auth.require(request, self.services, step=MFA)
        code = request.form.get("code", "").strip()
        if not code:
            error = "Enter the 6-digit code from your app, or a recovery code."
            return self.auth.page(
                request, "login_mfa.html", principal=principal, status=422,
                title="Enter your code", error=error,
            )  # fmt: skip
        token = self._token(request)
        try:
            principal = self._call("pass_mfa", token=token, code=code)
        except RemoteError as exc:
            status, message = form_error(exc)
            return self.auth.page(
                request, "login_mfa.html", principal=principal, status=status,
                title="Enter your code", error=message,
            )  # fmt: skip
        self.auth.forget(token)
        return redirect(stage_page(principal))

    @http("POST", "/logout")
    def logout(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        token = self.auth.token(request)
        if token:
            self._call("sign_out", token=token)
            self.auth.forget(token)
        response = redirect("/login?signed_out=1")
        self.auth.end_session(request, response)
        return response

    # -- passwords -------------------------------------------------------------------------

    def _password_form(self, request, principal, status=200, **context) -> Response:
        return self.auth.page(
            request, "password_change.html", principal=principal, status=status,
            title="Change your password", forced=principal["stage"] == CHANGE_PASSWORD,
            rules=self._rules(), **context,
        )  # fmt: skip

    def _rules(self) -> list[str]:
        history = self.settings.password_history
        return [
            f"at least {self.settings.password_min_length} characters",
            "an upper-case letter (A–Z)",
            "a digit (0–9)",
            "a symbol such as ! # % or *",
            f"not one of your last {history} passwords" if history > 1 else "not your last one",
            "not a common password or a keyboard pattern (like 1qaz or qwerty)",
            "not built from your name or email, the program's name (CPMRS) or a season "
            "or month and a year",
        ]

    @http("GET", "/password/change")
    def password_change_page(self, request: Request) -> Response:
        principal = self._at_step(request, CHANGE_PASSWORD, READY)
        return self._password_form(request, principal)

    @http("POST", "/password/change")
    def password_change(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self._at_step(request, CHANGE_PASSWORD, READY)
        current = request.form.get("current_password", "")
        new = request.form.get("new_password", "")
        confirm = request.form.get("confirm_password", "")
        errors: dict[str, Any] = {}
        if not current:
            errors["current_password"] = "Enter your current password."
        if not new:
            errors["new_password"] = "Enter a new password."
        elif new != confirm:
            errors["confirm_password"] = "The two new passwords are not the same. Type it again."
        if errors:
            return self._password_form(request, principal, status=422, errors=errors)
        token = self._token(request)
        try:
            changed = self._call("change_password", token=token, current=current, new=new)
        except RemoteError as exc:
            status, message = form_error(exc)
            if exc.exc_type == "PasswordRejected":
                problems = password_problems(message)
                wrong_current = [p for p in problems if "current password" in p]
                if wrong_current:
                    errors["current_password"] = "Your current password is not right."
                rest = [p for p in problems if p not in wrong_current]
                if rest:
                    errors["new_password"] = rest
                return self._password_form(request, principal, status=status, errors=errors)
            return self._password_form(request, principal, status=status, form_error=message)
        self.auth.forget(token)
        fresh = changed["principal"]
        response = redirect(stage_page(fresh) + "?notice=password_changed")
        self.auth.start_session(request, response, changed["token"])
        return response

    @http("GET", "/password/forgot")
    def password_forgot_page(self, request: Request) -> Response:
        principal = self.auth.principal(request, self.services)
        return self.auth.page(
            request, "password_forgot.html", principal=principal, title="Forgot your password"
        )

    @http("POST", "/password/forgot")
    def password_forgot(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self.auth.principal(request, self.services)
        email = request.form.get("email", "").strip()
        if "@" not in email:
            return self.auth.page(
                request, "password_forgot.html", principal=principal, status=422,
                title="Forgot your password", email=email,
                errors={"email": "Enter your email address, like name@example.org."},
            )  # fmt: skip
        # Too many asked (for any address, known or not): the error page, 429 and Retry-After.
        self._call("request_password_reset", email=email, client=client_address(request))
        return self.auth.page(
            request, "password_forgot.html", principal=principal, sent=True, email=email,
            title="Check your email",
        )  # fmt: skip

    def _reset_form(self, request, link, status=200, **context) -> Response:
        principal = self.auth.principal(request, self.services)
        try:
            questions = self._call("reset_questions", link=link)
        except RemoteError as exc:
            status, message = form_error(exc)
            return self.auth.page(
                request, "password_reset.html", principal=principal, status=status,
                title="Reset your password", link_error=message,
            )  # fmt: skip
        return self.auth.page(
            request, "password_reset.html", principal=principal, status=status,
            title="Reset your password", questions=questions, rules=self._rules(), **context,
        )  # fmt: skip

    @http("GET", "/password/reset/<path:link>")
    def password_reset_page(self, request: Request, link: str) -> Response:
        return self._reset_form(request, link)

    @http("POST", "/password/reset/<path:link>")
    def password_reset(self, request: Request, link: str) -> Response:
        self.auth.check_csrf(request)
        answers = [request.form.get(f"answer_{i}", "") for i in range(3)]
        new = request.form.get("new_password", "")
        confirm = request.form.get("confirm_password", "")
        errors: dict[str, Any] = {}
        for i, answer in enumerate(answers):
            if not answer.strip():
                errors[f"answer_{i}"] = "Answer this question."
        if not new:
            errors["new_password"] = "Enter a new password."
        elif new != confirm:
            errors["confirm_password"] = "The two new passwords are not the same. Type it again."
        if errors:
            return self._reset_form(request, link, status=422, errors=errors)
        try:
            self._call("complete_password_reset", link=link, answers=answers, new=new)
        except RemoteError as exc:
            status, message = form_error(exc)
            if exc.exc_type == "PasswordRejected":
                errors["new_password"] = password_problems(message)
                return self._reset_form(request, link, status=status, errors=errors)
            return self._reset_form(request, link, status=status, form_error=message)
        return redirect("/login?reset=1")

    # -- the signed-in user's own account ----------------------------------------------------

    def _account_page(self, request, principal, status=200, **context) -> Response:
        notice = NOTICES.get(request.args.get("notice", ""))
        return self.auth.page(
            request, "account.html", principal=principal, status=status, title="My account",
            active="account", notice=notice, questions=self._call("security_questions"),
            last_sign_in=parse_time(principal.get("last_sign_in_at")),
            password_expires=parse_time(principal.get("password_expires_at")), **context,
        )  # fmt: skip

    @http("GET", "/account")
    def account_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services)
        return self._account_page(request, principal)

    @http("POST", "/account/security-questions")
    def security_questions(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self.auth.require(request, self.services)
        chosen = [request.form.get(f"question_{i}", "") for i in range(3)]
        answers = [request.form.get(f"answer_{i}", "") for i in range(3)]
        errors: dict[str, str] = {}
        for i in range(3):
            if not chosen[i]:
                errors[f"question_{i}"] = "Choose a question."
            elif chosen[i] in chosen[:i]:
                errors[f"question_{i}"] = "Choose a question you have not already chosen."
            if len(answers[i].strip()) < 2:
                errors[f"answer_{i}"] = "Give an answer of at least two letters or digits."
        form = {"chosen": chosen, "answers": answers}
        if errors:
            return self._account_page(request, principal, status=422, errors=errors, form=form)
        token = self._token(request)
        try:
            self._call("set_security_questions", token=token, questions=chosen, answers=answers)
        except RemoteError as exc:
            status, message = form_error(exc)
            return self._account_page(
                request, principal, status=status, questions_error=message, form=form
            )
        self.auth.forget(token)
        return redirect("/account?notice=questions_saved")

    def _enrol_page(self, request, principal, secret: str, status=200, **context) -> Response:
        uri = provisioning_uri(secret, principal["email"])
        return self.auth.page(
            request, "mfa_enrol.html", principal=principal, status=status,
            title="Set up your authenticator app", active="account", secret=secret,
            secret_grouped=group_secret(secret), qr=qr_svg(uri),
            notice=NOTICES.get(request.args.get("notice", "")), **context,
        )  # fmt: skip

    @http("GET", "/account/mfa")
    def mfa_enrol_page(self, request: Request) -> Response:
        principal = self._at_step(request, ENROL_MFA, READY)
        started = self._call("begin_mfa_enrolment", token=self._token(request))
        return self._enrol_page(request, principal, started["secret"])

    @http("POST", "/account/mfa")
    def mfa_enrol(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self._at_step(request, ENROL_MFA, READY)
        secret = "".join(request.form.get("secret", "").split()).upper()
        code = "".join(request.form.get("code", "").split())
        if not secret:
            return redirect("/account/mfa")
        if not code:
            error = "Enter the 6-digit code your app shows."
            return self._enrol_page(request, principal, secret, status=422, error=error)
        token = self._token(request)
        try:
            enrolled = self._call("confirm_mfa_enrolment", token=token, secret=secret, code=code)
        except RemoteError as exc:
            status, message = form_error(exc)
            return self._enrol_page(request, principal, secret, status=status, error=message)
        self.auth.forget(token)
        fresh = enrolled["principal"]
        return self.auth.page(
            request, "recovery_codes.html", principal=fresh, title="Save your recovery codes",
            codes=enrolled["recovery_codes"], next_page=stage_page(fresh),
        )  # fmt: skip
