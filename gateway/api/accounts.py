"""The JSON API for sessions, the signed-in user's own account, and password resets.

Bearer tokens only (``Authorization: Bearer <token>`` from ``POST /api/sessions``). Every
handler either calls ``self.auth.require`` before any other service call, or is public on
purpose (signing in, the list of security questions, password resets): deny by default.
Handler names start with ``api_`` so they never clash with the page mixins'.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.auth import client_address
from gateway.http import http
from gateway.responses import json_response
from gateway.schemas import (
    MfaCodeSchema,
    MfaConfirmationSchema,
    MfaEnrolledSchema,
    MfaEnrolmentSchema,
    PasswordChangeSchema,
    PasswordResetAcceptedSchema,
    PasswordResetRequestSchema,
    PasswordResetSchema,
    PrincipalSchema,
    SecurityAnswersSetSchema,
    SecurityQuestionsSchema,
    SessionCreatedSchema,
    SignInSchema,
    load_body,
)
from services.identity.domain import CHANGE_PASSWORD, ENROL_MFA, MFA, READY
from services.identity.roles import Permission

ANY_STAGE = (READY, MFA, CHANGE_PASSWORD, ENROL_MFA)
RESET_ACCEPTED = (
    "If this address belongs to an active account with security questions, an email with a "
    "reset link is on its way. The link works once, for a limited time."
)


def _no_content() -> Response:
    return Response(status=204)


class AccountApi:
    def _api_call(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("identity", method, self.settings.rpc_timeout, **kwargs)

    def _api_at_step(self, request: Request, steps: tuple[str, ...]) -> dict[str, Any]:
        """The principal, if their session is at one of ``steps`` (the first is the one named
        in the refusal otherwise). At ``ready``, the caller needs ``account.self``."""
        principal = self.auth.principal(request, self.services)
        step = principal["stage"] if principal and principal["stage"] in steps else steps[0]
        permission = Permission.ACCOUNT_SELF if step == READY else None
        return self.auth.require(request, self.services, permission, step=step)

    # -- signing in and out ----------------------------------------------------------------

    @http("POST", "/api/sessions")
    def api_sign_in(self, request: Request) -> Response:
        """Sign in with email and password (public).
        ---
        post:
          summary: Sign in; returns a session token and the first step to take
          description: >
            Every failure (unknown address, wrong password, locked, suspended...) gets the
            same 401 answer. Too many attempts from one address get 429.
          security: []
          requestBody:
            required: true
            content:
              application/json:
                schema: SignIn
          responses:
            201:
              description: Signed in; `principal.stage` says what to do next.
              content:
                application/json:
                  schema: SessionCreated
            401:
              description: Sign-in refused.
              content:
                application/problem+json:
                  schema: Problem
            422:
              description: A field is missing or not valid.
              content:
                application/problem+json:
                  schema: ValidationProblem
            429:
              description: Too many sign-in attempts from this address.
              content:
                application/problem+json:
                  schema: Problem
        """
        body = load_body(SignInSchema(), request)
        session = self._api_call(
            "sign_in",
            email=body["email"],
            password=body["password"],
            client=client_address(request),
        )
        return json_response(SessionCreatedSchema().dump(session), 201)

    @http("GET", "/api/session")
    def api_session(self, request: Request) -> Response:
        """The signed-in principal, at whatever step of signing in.
        ---
        get:
          summary: Who holds this token, and the sign-in step they are at
          security:
            - sessionToken: []
          responses:
            200:
              description: The principal.
              content:
                application/json:
                  schema: Principal
            401:
              description: Not signed in, or the session ended.
              content:
                application/problem+json:
                  schema: Problem
        """
        principal = self._api_at_step(request, ANY_STAGE)
        return json_response(PrincipalSchema().dump(principal))

    @http("DELETE", "/api/session")
    def api_sign_out(self, request: Request) -> Response:
        """Sign out.
        ---
        delete:
          summary: End this session
          security:
            - sessionToken: []
          responses:
            204:
              description: Signed out.
            401:
              description: Not signed in, or the session ended already.
              content:
                application/problem+json:
                  schema: Problem
        """
        self._api_at_step(request, ANY_STAGE)
        token = self.auth.token(request)
        self._api_call("sign_out", token=token)
        self.auth.forget(token)
        return _no_content()

    @http("POST", "/api/session/mfa")
    def api_pass_mfa(self, request: Request) -> Response:
        """Pass the MFA step with an authenticator code or a recovery code.
        ---
        post:
          summary: Pass the multi-factor step of signing in
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: MfaCode
          responses:
            200:
              description: Passed; the principal at its next step.
              content:
                application/json:
                  schema: Principal
            401: NotSignedIn
            403:
              description: This session is not at the MFA step.
              content:
                application/problem+json:
                  schema: Problem
            422:
              description: The code was not accepted, or the body is not valid.
              content:
                application/problem+json:
                  schema: ValidationProblem
        """
        self.auth.require(request, self.services, step=MFA)
        body = load_body(MfaCodeSchema(), request)
        token = self.auth.token(request)
        principal = self._api_call("pass_mfa", token=token, code=body["code"])
        self.auth.forget(token)
        return json_response(PrincipalSchema().dump(principal))

    # -- the signed-in user's own account ------------------------------------------------------

    @http("POST", "/api/me/password")
    def api_change_password(self, request: Request) -> Response:
        """Change the signed-in user's password (forced after a temporary one, or by choice).
        ---
        post:
          summary: Change your password; every session ends and a new token is returned
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: PasswordChange
          responses:
            200:
              description: Changed; use the new token from now on.
              content:
                application/json:
                  schema: SessionCreated
            401: NotSignedIn
            403: SignInUnfinished
            422:
              description: >
                The current password is wrong or the new one breaks rules (`detail` names
                every rule it breaks), or the body is not valid.
              content:
                application/problem+json:
                  schema: ValidationProblem
        """
        self._api_at_step(request, (CHANGE_PASSWORD, READY))
        body = load_body(PasswordChangeSchema(), request)
        token = self.auth.token(request)
        session = self._api_call(
            "change_password",
            token=token,
            current=body["current_password"],
            new=body["new_password"],
        )
        self.auth.forget(token)
        return json_response(SessionCreatedSchema().dump(session))

    @http("POST", "/api/me/mfa")
    def api_begin_mfa(self, request: Request) -> Response:
        """Start enrolling an authenticator app.
        ---
        post:
          summary: A new TOTP seed to add to an authenticator app (nothing is stored yet)
          security:
            - sessionToken: []
          responses:
            200:
              description: The seed and its otpauth link; confirm with a code from the app.
              content:
                application/json:
                  schema: MfaEnrolment
            401: NotSignedIn
            403: SignInUnfinished
        """
        self._api_at_step(request, (ENROL_MFA, READY))
        started = self._api_call("begin_mfa_enrolment", token=self.auth.token(request))
        body = {"secret": started["secret"], "otpauth_uri": started["uri"]}
        return json_response(MfaEnrolmentSchema().dump(body))

    @http("POST", "/api/me/mfa/confirm")
    def api_confirm_mfa(self, request: Request) -> Response:
        """Finish enrolling an authenticator app with a code from it.
        ---
        post:
          summary: Confirm the authenticator; returns recovery codes, shown only now
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: MfaConfirmation
          responses:
            200:
              description: Enrolled.
              content:
                application/json:
                  schema: MfaEnrolled
            401: NotSignedIn
            403: SignInUnfinished
            422:
              description: The code does not match, or the body is not valid.
              content:
                application/problem+json:
                  schema: ValidationProblem
        """
        self._api_at_step(request, (ENROL_MFA, READY))
        body = load_body(MfaConfirmationSchema(), request)
        token = self.auth.token(request)
        enrolled = self._api_call(
            "confirm_mfa_enrolment", token=token, secret=body["secret"], code=body["code"]
        )
        self.auth.forget(token)
        return json_response(MfaEnrolledSchema().dump(enrolled))

    @http("GET", "/api/security-questions")
    def api_security_questions(self, request: Request) -> Response:
        """The security questions to choose from (public).
        ---
        get:
          summary: The security questions a user may choose three of
          security: []
          responses:
            200:
              description: The questions.
              content:
                application/json:
                  schema: SecurityQuestions
        """
        questions = self._api_call("security_questions")
        return json_response(SecurityQuestionsSchema().dump({"questions": questions}))

    @http("PUT", "/api/me/security-questions")
    def api_set_security_questions(self, request: Request) -> Response:
        """Choose three security questions and answer them.
        ---
        put:
          summary: Set your security questions (needed for self-service password reset)
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: SecurityAnswersSet
          responses:
            204:
              description: Saved.
            401: NotSignedIn
            403: SignInUnfinished
            422:
              description: Not three different known questions, or an answer is too short.
              content:
                application/problem+json:
                  schema: ValidationProblem
        """
        self.auth.require(request, self.services, Permission.ACCOUNT_SELF)
        body = load_body(SecurityAnswersSetSchema(), request)
        self._api_call(
            "set_security_questions",
            token=self.auth.token(request),
            questions=body["questions"],
            answers=body["answers"],
        )
        return _no_content()

    # -- self-service password reset (public) ----------------------------------------------

    @http("POST", "/api/password-resets")
    def api_request_password_reset(self, request: Request) -> Response:
        """Ask for a password-reset link by email (public).
        ---
        post:
          summary: Email a reset link, if the address has an account that can use one
          description: >
            The answer is the same whether or not the address belongs to an account. Too
            many requests for one address (known or not) or from one client address get 429
            with `Retry-After` (seconds), alike for every address.
          security: []
          requestBody:
            required: true
            content:
              application/json:
                schema: PasswordResetRequest
          responses:
            202:
              description: Accepted; an email may be on its way.
              content:
                application/json:
                  schema: PasswordResetAccepted
            422:
              description: The body is not valid.
              content:
                application/problem+json:
                  schema: ValidationProblem
            429:
              description: Too many reset emails asked; `Retry-After` says when to ask again.
              content:
                application/problem+json:
                  schema: Problem
        """
        body = load_body(PasswordResetRequestSchema(), request)
        self._api_call(
            "request_password_reset", email=body["email"], client=client_address(request)
        )
        return json_response(PasswordResetAcceptedSchema().dump({"detail": RESET_ACCEPTED}), 202)

    @http("GET", "/api/password-resets/<link>")
    def api_reset_questions(self, request: Request, link: str) -> Response:
        """The questions to answer for a reset link (public; the link is the secret).
        ---
        get:
          summary: The security questions of the account a reset link belongs to
          security: []
          parameters:
            - in: path
              name: link
              required: true
              schema:
                type: string
          responses:
            200:
              description: The questions, in the order to answer them.
              content:
                application/json:
                  schema: SecurityQuestions
            422:
              description: The link is not valid, expired or used.
              content:
                application/problem+json:
                  schema: Problem
        """
        questions = self._api_call("reset_questions", link=link)
        return json_response(SecurityQuestionsSchema().dump({"questions": questions}))

    @http("POST", "/api/password-resets/<link>")
    def api_complete_password_reset(self, request: Request, link: str) -> Response:
        """Answer the security questions and choose a new password (public).
        ---
        post:
          summary: Reset the password with a reset link and the answers
          security: []
          parameters:
            - in: path
              name: link
              required: true
              schema:
                type: string
          requestBody:
            required: true
            content:
              application/json:
                schema: PasswordReset
          responses:
            204:
              description: The password was changed; every session ended.
            422:
              description: >
                The link is not valid, the answers do not match, or the new password breaks
                rules.
              content:
                application/problem+json:
                  schema: ValidationProblem
        """
        body = load_body(PasswordResetSchema(), request)
        self._api_call(
            "complete_password_reset",
            link=link,
            answers=body["answers"],
            new=body["new_password"],
        )
        return _no_content()
