"""The registration JSON API for applicants: sign-up and their own application, from the
role to submission, renewal and profile changes (supervisors and administrators: ``review.py``).

Bearer tokens only, as the rest of the API. Every handler calls ``self.auth.require`` with the
permission named in ``docs/registration.md`` before any other service call, or is public on
purpose (signing up, the email-verification link, the User Agreement's text); the
registration service checks the caller again. Handler names start with ``api_`` so they
never clash with the page mixins'.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from nameko.exceptions import RemoteError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from gateway.auth import client_address
from gateway.http import http
from gateway.problems import ERRORS, Problem
from gateway.responses import download, json_response, uploaded_document
from gateway.schemas import (
    AgreementAcceptanceSchema,
    AgreementSchema,
    ApplicationSchema,
    EmailVerifiedSchema,
    ProfileChangeSchema,
    RegistrationFormSchema,
    RoleChoiceSchema,
    SessionCreatedSchema,
    SignUpAcceptedSchema,
    SignUpCompletionSchema,
    SignUpSchema,
    load_body,
)
from pmp.documents import MAX_BYTES
from services.identity.roles import Permission
from services.registration import forms

MAX_MB = MAX_BYTES // (1024 * 1024)
# A larger request is refused before its body is read: the file plus the form around it.
MAX_UPLOAD_REQUEST = MAX_BYTES + 1024 * 1024
TOO_LARGE = (
    f"The file is larger than {MAX_MB} MB, the limit. Scan it at a lower resolution, or send "
    "it in parts."
)
DEFAULT_DESCRIPTION = "Supporting document"
VERIFICATIONS_LIMITED = "Too many verification emails asked; `Retry-After` says when to retry."
# The same whether or not an account has the address (see identity's ``sign_up``).
SIGN_UP_ACCEPTED = (
    "Check your email: we sent a message to this address. If you are new, it has the link "
    "to choose your password and go on; the link works once, for a limited time."
)

ACCOUNT_ID_PARAMETER = """
            - in: path
              name: account_id
              required: true
              schema:
                type: string
                format: uuid"""
DOCUMENT_ID_PARAMETER = """
            - in: path
              name: document_id
              required: true
              schema:
                type: string
                format: uuid"""
APPLICATION_RESPONSE = """
              content:
                application/json:
                  schema: Application"""
FILE_RESPONSE = """
              content:
                application/octet-stream:
                  schema:
                    type: string
                    format: binary
              headers:
                Content-Disposition:
                  description: Always `attachment`, with the file's name.
                  schema:
                    type: string"""


def problem_response(description: str, schema: str = "Problem") -> str:
    return f"""
              description: {json.dumps(description)}
              content:
                application/problem+json:
                  schema: {schema}"""


def invalid(errors: dict[str, str], title: str = "The form has mistakes") -> Problem:
    return Problem(
        422,
        title,
        "Fix the fields named in `errors` and send it again: " + ", ".join(sorted(errors)),
        extensions={"errors": errors},
    )


def _forminvalid(exc: RemoteError) -> Problem:
    """The service's ``FormInvalid`` ("field: message; field: message") with its fields in
    ``errors``, as the gateway's own checks answer."""
    return invalid(forms.errors_in(str(exc.value)), ERRORS["FormInvalid"][1])


class RegistrationApi:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    def _api_registration(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("registration", method, self.settings.rpc_timeout, **kwargs)

    def _api_applicant(self, request: Request) -> dict[str, Any]:
        return self.auth.require(request, self.services, Permission.REGISTRATION_APPLY)

    def _api_view(self, method: str, status: int = 200, **kwargs: Any) -> Response:
        return json_response(
            ApplicationSchema().dump(self._api_registration(method, **kwargs)), status
        )

    # -- signing up (public) -------------------------------------------------------------------

    @http("POST", "/api/sign-ups")
    def api_sign_up(self, request: Request) -> Response:
        """Ask to sign up to apply for access (public).
        ---
        post:
          summary: Sign up; the link to go on is emailed to the address
          description: >
            The answer is the same whether or not an account has the address: a new address
            is sent a link that makes the account (`POST /api/sign-ups/{{link}}`); an address
            with an account is told that someone tried to register with it. Too many
            requests for one address (known or not) or from one client address get 429 with
            `Retry-After` (seconds).
          security: []
          requestBody:
            required: true
            content:
              application/json:
                schema: SignUp
          responses:
            202:
              description: Accepted; an email is on its way to the address.
              content:
                application/json:
                  schema: SignUpAccepted
            422:{invalid}
            429:{throttled}
        """
        body = load_body(SignUpSchema(), request)
        self.services.call(
            "identity",
            "sign_up",
            self.settings.rpc_timeout,
            email=body["email"],
            client=client_address(request),
        )
        return json_response(SignUpAcceptedSchema().dump({"detail": SIGN_UP_ACCEPTED}), 202)

    api_sign_up.__doc__ = api_sign_up.__doc__.format(
        invalid=problem_response("The email address is not valid.", "ValidationProblem"),
        throttled=problem_response("Too many sign-ups asked; `Retry-After` says when to retry."),
    )

    @http("POST", "/api/sign-ups/<link>")
    def api_complete_sign_up(self, request: Request, link: str) -> Response:
        """Make your applicant account with the emailed link (public; the link is the secret).
        ---
        post:
          summary: Choose your password; returns a session token of the new applicant account
          description: >
            The account has the role `applicant`: it may apply for access and reaches no
            patient data until an application is approved. The link works once, for a limited
            time. Too many attempts from one address get 429, as for signing in.
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
                schema: SignUpCompletion
          responses:
            201:
              description: Signed up and signed in.
              content:
                application/json:
                  schema: SessionCreated
            422:{invalid}
            429:{throttled}
        """
        body = load_body(SignUpCompletionSchema(), request)
        signed_up = self.services.call(
            "identity",
            "complete_sign_up",
            self.settings.rpc_timeout,
            link=link,
            password=body["password"],
            client=client_address(request),
        )
        return json_response(SessionCreatedSchema().dump(signed_up), 201)

    api_complete_sign_up.__doc__ = api_complete_sign_up.__doc__.format(
        invalid=problem_response(
            "The link is not valid, expired or used, or the password breaks rules (`detail` "
            "names each).",
            "ValidationProblem",
        ),
        throttled=problem_response("Too many attempts from this address."),
    )

    # -- the applicant's own application -----------------------------------------------------

    @http("GET", "/api/registration")
    def api_my_registration(self, request: Request) -> Response:
        """Your application.
        ---
        get:
          summary: Your application, with what still stops you from submitting it
          description: Needs the permission `registration.apply`.
          security:
            - sessionToken: []
          responses:
            200:
              description: The application.{application}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
        """
        self._api_applicant(request)
        view = self._api_registration("my_registration")
        if view is None:
            raise Problem(
                404,
                "You have not applied yet",
                "Start an application with POST /api/registration and the role you apply for.",
            )
        return json_response(ApplicationSchema().dump(view))

    api_my_registration.__doc__ = api_my_registration.__doc__.format(
        application=APPLICATION_RESPONSE,
        missing=problem_response("You have not started an application."),
    )

    @http("POST", "/api/registration")
    def api_start_application(self, request: Request) -> Response:
        """Start an application.
        ---
        post:
          summary: Start your application for a role; a verification email goes out
          description: >
            Needs the permission `registration.apply`. The application's email address is the
            one you signed up with. After a rejection or a closure, this starts again.
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: RoleChoice
          responses:
            201:
              description: Started.{application}
            401: NotSignedIn
            403: RoleRefused
            409:{conflict}
            422:{invalid}
            429:{throttled}
        """
        principal = self._api_applicant(request)
        body = load_body(RoleChoiceSchema(), request)
        return self._api_view("start_application", 201, email=principal["email"], role=body["role"])

    api_start_application.__doc__ = api_start_application.__doc__.format(
        application=APPLICATION_RESPONSE,
        conflict=problem_response("You have an application already."),
        invalid=problem_response("The role is not one you may apply for.", "ValidationProblem"),
        throttled=problem_response(VERIFICATIONS_LIMITED),
    )

    @http("PUT", "/api/registration/role")
    def api_choose_role(self, request: Request) -> Response:
        """Change the role you apply for.
        ---
        put:
          summary: Change the role of your application (its form is cleared)
          description: Needs the permission `registration.apply`; only before submitting.
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: RoleChoice
          responses:
            200:
              description: Changed.{application}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            409:{conflict}
            422:{invalid}
        """
        self._api_applicant(request)
        body = load_body(RoleChoiceSchema(), request)
        return self._api_view("choose_role", role=body["role"])

    api_choose_role.__doc__ = api_choose_role.__doc__.format(
        application=APPLICATION_RESPONSE,
        missing=problem_response("You have not started an application."),
        conflict=problem_response("The application can no longer change."),
        invalid=problem_response("The role is not one you may apply for.", "ValidationProblem"),
        throttled=problem_response(VERIFICATIONS_LIMITED),
    )

    @http("POST", "/api/registration/verification")
    def api_resend_verification(self, request: Request) -> Response:
        """Send the verification email again.
        ---
        post:
          summary: Send a new email-verification link (the earlier one stops working)
          description: Needs the permission `registration.apply`.
          security:
            - sessionToken: []
          responses:
            200:
              description: Sent.{application}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            409:{conflict}
            429:{throttled}
        """
        self._api_applicant(request)
        return self._api_view("resend_verification")

    api_resend_verification.__doc__ = api_resend_verification.__doc__.format(
        application=APPLICATION_RESPONSE,
        missing=problem_response("You have not started an application."),
        conflict=problem_response("The address is verified already, or the application is closed."),
        throttled=problem_response(VERIFICATIONS_LIMITED),
    )

    @http("POST", "/api/registration/verification/<link>")
    def api_verify_email(self, request: Request, link: str) -> Response:
        """Verify an email address with the link from the email (public; the link is the
        secret).
        ---
        post:
          summary: Verify the application's email address with the emailed link
          description: The last part of the link in the email. It works once.
          security: []
          parameters:
            - in: path
              name: link
              required: true
              schema:
                type: string
          responses:
            200:
              description: Verified.
              content:
                application/json:
                  schema: EmailVerified
            422:{invalid}
        """
        verified = self._api_registration("verify_email", link=link)
        return json_response(EmailVerifiedSchema().dump(verified))

    api_verify_email.__doc__ = api_verify_email.__doc__.format(
        invalid=problem_response("The link is not valid, expired, or was used already.")
    )

    @http("PUT", "/api/registration/form")
    def api_save_form(self, request: Request) -> Response:
        """Fill in the registration form, and set your security questions.
        ---
        put:
          summary: Save the registration form of your role and your security questions
          description: >
            Needs the permission `registration.apply`. The whole form each time; which fields
            are required depends on the role. `questions` and `answers` (three each) are
            required until your security questions are set. Every mistake is named in
            `errors`, and nothing is saved then.
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: RegistrationForm
          responses:
            200:
              description: Saved.{application}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            409:{conflict}
            422:{invalid}
        """
        principal = self._api_applicant(request)
        body = load_body(RegistrationFormSchema(), request)
        questions = body.pop("questions", None)
        answers = body.pop("answers", None)
        view = self._api_registration("my_registration")
        if view is None:
            raise Problem(
                404,
                "You have not applied yet",
                "Start an application with POST /api/registration first.",
            )
        _, errors = forms.validate_form(view["role"], body)
        errors = dict(errors)
        questions_given = questions is not None or answers is not None
        if questions_given or not principal.get("security_questions_set"):
            if not questions or len(set(questions)) != len(questions):
                errors["questions"] = "Choose three different security questions."
            if not answers:
                errors["answers"] = "Answer each of the three security questions."
            elif any(len(answer.strip()) < 2 for answer in answers):
                errors["answers"] = "Answer each question with at least two letters or digits."
        if errors:
            raise invalid(errors, ERRORS["FormInvalid"][1])
        if questions_given:
            token = self.auth.token(request) or ""
            self.services.call(
                "identity",
                "set_security_questions",
                self.settings.rpc_timeout,
                token=token,
                questions=questions,
                answers=answers,
            )
            self.auth.forget(token)
        try:
            saved = self._api_registration("save_form", form=body)
        except RemoteError as exc:
            if exc.exc_type == "FormInvalid":
                raise _forminvalid(exc) from None
            raise
        return json_response(ApplicationSchema().dump(saved))

    api_save_form.__doc__ = api_save_form.__doc__.format(
        application=APPLICATION_RESPONSE,
        missing=problem_response("You have not started an application."),
        conflict=problem_response("The application cannot be edited now (it is with a reviewer)."),
        invalid=problem_response(
            "Fields are missing or not valid: each is named.", "ValidationProblem"
        ),
    )

    # -- documents -------------------------------------------------------------------------------

    @http("GET", "/api/registration/documents")
    def api_my_documents(self, request: Request) -> Response:
        """Your application's documents.
        ---
        get:
          summary: The documents attached to your application
          description: Needs the permission `registration.apply`.
          security:
            - sessionToken: []
          responses:
            200:
              description: The documents (their descriptions; GET each for its content).
              content:
                application/json:
                  schema:
                    type: array
                    items: ApplicationDocument
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
        """
        self._api_applicant(request)
        view = self._api_registration("my_registration")
        if view is None:
            raise Problem(404, "You have not applied yet", "Start an application first.")
        return json_response(ApplicationSchema(only=("documents",)).dump(view)["documents"])

    api_my_documents.__doc__ = api_my_documents.__doc__.format(
        missing=problem_response("You have not started an application.")
    )

    @http("POST", "/api/registration/documents")
    def api_upload_document(self, request: Request) -> Response:
        """Upload a supporting document.
        ---
        post:
          summary: Attach a PDF, JPEG or PNG of up to 10 MB to your application
          description: >
            Needs the permission `registration.apply`. The type is read from the file's
            content, not its name; a file that is not what it claims, or is damaged, is
            refused and nothing is stored. A request over 11 MB is refused before it is read.
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              multipart/form-data:
                schema:
                  type: object
                  required: [file]
                  properties:
                    file:
                      type: string
                      format: binary
                    description:
                      type: string
                      maxLength: 200
                      description: What the document is, e.g. "Government photo ID".
          responses:
            201:
              description: Attached.{application}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            409:{conflict}
            413:{too_large}
            422:{invalid}
        """
        too_large = (request.content_length or 0) > MAX_UPLOAD_REQUEST
        request.max_content_length = MAX_UPLOAD_REQUEST  # never read more than this
        self._api_applicant(request)
        if too_large:
            raise _too_large()
        try:
            upload = request.files.get("file")
            description = request.form.get("description", "").strip()
        except RequestEntityTooLarge:
            raise _too_large() from None
        errors = {}
        if upload is None or not upload.filename:
            errors["file"] = f"Send a file: a PDF, JPEG or PNG of up to {MAX_MB} MB."
        if len(description) > 200:
            errors["description"] = "Describe the document in at most 200 characters."
        if errors:
            raise invalid(errors, "The upload was refused")
        content = upload.read(MAX_BYTES + 1)
        if len(content) > MAX_BYTES:
            raise _too_large()
        try:
            view = self._api_registration(
                "attach_document",
                filename=upload.filename,
                content=base64.b64encode(content).decode(),
                description=description or DEFAULT_DESCRIPTION,
            )
        except RemoteError as exc:
            if exc.exc_type == "DocumentRejected":
                raise invalid({"file": str(exc.value)}, ERRORS["DocumentRejected"][1]) from None
            raise
        return json_response(ApplicationSchema().dump(view), 201)

    api_upload_document.__doc__ = api_upload_document.__doc__.format(
        application=APPLICATION_RESPONSE,
        missing=problem_response("You have not started an application."),
        conflict=problem_response("The application cannot be edited now."),
        too_large=problem_response(f"The file is over {MAX_MB} MB (the request over 11 MB)."),
        invalid=problem_response(
            "No file, or the file is not a PDF, JPEG or PNG, or is damaged: `errors.file` "
            "says which.",
            "ValidationProblem",
        ),
    )

    @http("GET", "/api/registration/documents/<uuid:document_id>")
    def api_my_document(self, request: Request, document_id: uuid.UUID) -> Response:
        """One of your documents, as uploaded.
        ---
        get:
          summary: Download one of your application's documents
          description: Needs the permission `registration.apply`. Always an attachment.
          security:
            - sessionToken: []
          parameters:{document_id}
          responses:
            200:
              description: The file, with its content type.{file}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
        """
        principal = self._api_applicant(request)
        found = self._api_registration(
            "document", account_id=principal["account_id"], document_id=str(document_id)
        )
        return uploaded_document(found)

    api_my_document.__doc__ = api_my_document.__doc__.format(
        document_id=DOCUMENT_ID_PARAMETER,
        file=FILE_RESPONSE,
        missing=problem_response("There is no such document."),
    )

    @http("DELETE", "/api/registration/documents/<uuid:document_id>")
    def api_remove_document(self, request: Request, document_id: uuid.UUID) -> Response:
        """Remove one of your documents.
        ---
        delete:
          summary: Remove a document from your application
          description: Needs the permission `registration.apply`; while the application is
            editable.
          security:
            - sessionToken: []
          parameters:{document_id}
          responses:
            200:
              description: Removed.{application}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            409:{conflict}
        """
        self._api_applicant(request)
        return self._api_view("remove_document", document_id=str(document_id))

    api_remove_document.__doc__ = api_remove_document.__doc__.format(
        document_id=DOCUMENT_ID_PARAMETER,
        application=APPLICATION_RESPONSE,
        missing=problem_response("There is no such document, or no application."),
        conflict=problem_response("The application cannot be edited now."),
    )

    # -- the agreement, the confirmation, submitting -----------------------------------------

    @http("GET", "/api/registration/agreement")
    def api_agreement(self, request: Request) -> Response:
        """The User Agreement (public).
        ---
        get:
          summary: The current User Agreement, with its version
          security: []
          responses:
            200:
              description: The agreement.
              content:
                application/json:
                  schema: Agreement
        """
        return json_response(AgreementSchema().dump(self._api_registration("agreement")))

    @http("POST", "/api/registration/agreement")
    def api_accept_agreement(self, request: Request) -> Response:
        """Accept the User Agreement.
        ---
        post:
          summary: Accept the version of the User Agreement you read
          description: Needs the permission `registration.apply`.
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: AgreementAcceptance
          responses:
            200:
              description: Accepted.{application}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            409:{conflict}
            422:{invalid}
        """
        self._api_applicant(request)
        body = load_body(AgreementAcceptanceSchema(), request)
        return self._api_view(
            "accept_agreement", version=body["version"], client=client_address(request)
        )

    api_accept_agreement.__doc__ = api_accept_agreement.__doc__.format(
        application=APPLICATION_RESPONSE,
        missing=problem_response("You have not started an application."),
        conflict=problem_response(
            "The agreement changed since that version (read it again), or the application "
            "cannot be edited now."
        ),
        invalid=problem_response("The body is not valid.", "ValidationProblem"),
    )

    @http("GET", "/api/registration/confirmation.pdf")
    def api_confirmation_pdf(self, request: Request) -> Response:
        """The confirmation page to print, sign and keep.
        ---
        get:
          summary: Your application's confirmation page (PDF)
          description: Needs the permission `registration.apply`.
          security:
            - sessionToken: []
          responses:
            200:
              description: The PDF.
              content:
                application/pdf:
                  schema:
                    type: string
                    format: binary
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
        """
        self._api_applicant(request)
        pdf = base64.b64decode(self._api_registration("confirmation_pdf"))
        return download(pdf, "Registration confirmation.pdf", "application/pdf")

    api_confirmation_pdf.__doc__ = api_confirmation_pdf.__doc__.format(
        missing=problem_response("You have not started an application.")
    )

    @http("POST", "/api/registration/submission")
    def api_submit(self, request: Request) -> Response:
        """Submit your application.
        ---
        post:
          summary: Submit the application for review (a delegate's goes to their supervisor
            first)
          description: Needs the permission `registration.apply`.
          security:
            - sessionToken: []
          responses:
            200:
              description: Submitted.{application}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            409:{conflict}
            422:{incomplete}
        """
        self._api_applicant(request)
        return self._api_view("submit")

    api_submit.__doc__ = api_submit.__doc__.format(
        application=APPLICATION_RESPONSE,
        missing=problem_response("You have not started an application."),
        conflict=problem_response("The application was submitted already."),
        incomplete=problem_response("Something is missing; `detail` lists what."),
    )

    @http("POST", "/api/registration/renewal")
    def api_start_renewal(self, request: Request) -> Response:
        """Start renewing your registration.
        ---
        post:
          summary: Start a renewal (check the form, accept the agreement again, submit)
          description: Needs the permission `registration.apply`; once approved.
          security:
            - sessionToken: []
          responses:
            200:
              description: Renewal started.{application}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            409:{conflict}
        """
        self._api_applicant(request)
        return self._api_view("start_renewal")

    api_start_renewal.__doc__ = api_start_renewal.__doc__.format(
        application=APPLICATION_RESPONSE,
        missing=problem_response("You have no registration."),
        conflict=problem_response("Only an approved registration can be renewed."),
    )

    @http("POST", "/api/registration/profile-change")
    def api_request_profile_change(self, request: Request) -> Response:
        """Ask for a change of your name, facility or job title.
        ---
        post:
          summary: Request a profile change; an administrator approves it
          description: Needs the permission `registration.apply`; once approved.
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: ProfileChange
          responses:
            200:
              description: Requested.{application}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            409:{conflict}
            422:{invalid}
        """
        self._api_applicant(request)
        body = load_body(ProfileChangeSchema(), request)
        changes = {k: v.strip() for k, v in body.items() if v and v.strip()}
        if not changes:
            raise invalid(
                {forms.FORM_ERROR: "Change at least one of: " + ", ".join(forms.PROFILE_FIELDS)},
                "Nothing to change",
            )
        _, errors = forms.validate_profile_change(changes)
        if errors:
            raise invalid(dict(errors), ERRORS["FormInvalid"][1])
        try:
            view = self._api_registration("request_profile_change", changes=changes)
        except RemoteError as exc:
            if exc.exc_type == "FormInvalid":
                raise _forminvalid(exc) from None
            raise
        return json_response(ApplicationSchema().dump(view))

    api_request_profile_change.__doc__ = api_request_profile_change.__doc__.format(
        application=APPLICATION_RESPONSE,
        missing=problem_response("You have no registration."),
        conflict=problem_response(
            "Only an approved registration can change, one request at a time."
        ),
        invalid=problem_response(
            "Nothing to change, or a field is not valid.", "ValidationProblem"
        ),
    )


def _too_large() -> Problem:
    return Problem(
        413,
        "The file is too large",
        TOO_LARGE,
        extensions={"errors": {"file": TOO_LARGE}, "max_bytes": MAX_BYTES},
    )
