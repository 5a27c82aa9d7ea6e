"""The registration JSON API: sign-up, the applicant's application, supervisors' and
administrators' decisions.

Bearer tokens only, as the rest of the API. Every handler calls ``self.auth.require`` with the
permission the contract names (``docs/registration-contract.md``) before any other service call,
or is public on purpose (signing up, the email-verification link, the User Agreement's text);
the registration service checks the caller again from the context data. Handler names start
with ``api_`` so they never clash with the page mixins'.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import quote

from nameko.exceptions import RemoteError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from gateway.auth import client_address
from gateway.http import http
from gateway.problems import ERRORS, Problem
from gateway.schemas import (
    AgreementAcceptanceSchema,
    AgreementSchema,
    ApplicationDetailsSchema,
    ApplicationSchema,
    ApplicationSummariesSchema,
    DecisionSchema,
    EmailVerifiedSchema,
    ProfileChangeSchema,
    RegistrationFormSchema,
    RenewalPolicySchema,
    ReviewQuerySchema,
    ReviewQueueSchema,
    RoleChoiceSchema,
    SessionCreatedSchema,
    SignUpSchema,
    load_body,
    load_data,
)
from services.identity.roles import Permission
from services.registration import forms
from services.registration.documents import MAX_BYTES

MAX_MB = MAX_BYTES // (1024 * 1024)
# A larger request is refused before its body is read: the file plus the form around it.
MAX_UPLOAD_REQUEST = MAX_BYTES + 1024 * 1024
TOO_LARGE = (
    f"The file is larger than {MAX_MB} MB, the limit. Scan it at a lower resolution, or send "
    "it in parts."
)
DEFAULT_DESCRIPTION = "Supporting document"

_ACCOUNT_ID = """
            - in: path
              name: account_id
              required: true
              schema:
                type: string
                format: uuid"""
_DOCUMENT_ID = """
            - in: path
              name: document_id
              required: true
              schema:
                type: string
                format: uuid"""
_APPLICATION = """
              content:
                application/json:
                  schema: Application"""
_FILE = """
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


def _problem(description: str, schema: str = "Problem") -> str:
    return f"""
              description: {json.dumps(description)}
              content:
                application/problem+json:
                  schema: {schema}"""


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _file(content: bytes, filename: str, content_type: str) -> Response:
    """A file to save, never shown inline: an uploaded file must not run in a browser."""
    safe = "".join(c for c in filename if c.isalnum() or c in " -_.'()") or "document"
    return Response(
        content,
        mimetype=content_type,
        headers={
            "Content-Disposition": f"attachment; filename=\"{safe}\"; filename*=UTF-8''"
            + quote(filename),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def _invalid(errors: dict[str, str], title: str = "The form has mistakes") -> Problem:
    return Problem(
        422,
        title,
        "Fix the fields named in `errors` and send it again: " + ", ".join(sorted(errors)),
        extensions={"errors": errors},
    )


def _form_invalid(exc: RemoteError) -> Problem:
    """The service's ``FormInvalid`` ("field: message; field: message") with its fields in
    ``errors``, as the gateway's own checks answer."""
    errors: dict[str, str] = {}
    for part in str(exc.value).split("; "):
        name, sep, text = part.partition(": ")
        errors[name if sep and " " not in name else forms.FORM_ERROR] = text if sep else part
    return _invalid(errors, ERRORS["FormInvalid"][1])


class RegistrationApi:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    def _api_registration(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("registration", method, self.settings.rpc_timeout, **kwargs)

    def _api_applicant(self, request: Request) -> dict[str, Any]:
        return self.auth.require(request, self.services, Permission.REGISTRATION_APPLY)

    def _api_view(self, method: str, status: int = 200, **kwargs: Any) -> Response:
        return _json(ApplicationSchema().dump(self._api_registration(method, **kwargs)), status)

    # -- signing up (public) -------------------------------------------------------------------

    @http("POST", "/api/sign-ups")
    def api_sign_up(self, request: Request) -> Response:
        """Create your own account to apply for access (public).
        ---
        post:
          summary: Sign up; returns a session token of the new applicant account
          description: >
            The account has the role `applicant`: it may apply for access and reaches no
            patient data until an application is approved. Too many attempts from one address
            get 429, as for signing in.
          security: []
          requestBody:
            required: true
            content:
              application/json:
                schema: SignUp
          responses:
            201:
              description: Signed up and signed in.
              content:
                application/json:
                  schema: SessionCreated
            409:{conflict}
            422:{invalid}
            429:{throttled}
        """
        body = load_body(SignUpSchema(), request)
        signed_up = self.services.call(
            "identity",
            "sign_up",
            self.settings.rpc_timeout,
            email=body["email"],
            password=body["password"],
            client=client_address(request),
        )
        return _json(SessionCreatedSchema().dump(signed_up), 201)

    api_sign_up.__doc__ = api_sign_up.__doc__.format(
        conflict=_problem("The email address is already registered; sign in instead."),
        invalid=_problem(
            "The password breaks rules (`detail` names each), or a field is not valid.",
            "ValidationProblem",
        ),
        throttled=_problem("Too many attempts from this address."),
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
        return _json(ApplicationSchema().dump(view))

    api_my_registration.__doc__ = api_my_registration.__doc__.format(
        application=_APPLICATION, missing=_problem("You have not started an application.")
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
        """
        principal = self._api_applicant(request)
        body = load_body(RoleChoiceSchema(), request)
        return self._api_view("start_application", 201, email=principal["email"], role=body["role"])

    api_start_application.__doc__ = api_start_application.__doc__.format(
        application=_APPLICATION,
        conflict=_problem("You have an application already."),
        invalid=_problem("The role is not one you may apply for.", "ValidationProblem"),
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
        application=_APPLICATION,
        missing=_problem("You have not started an application."),
        conflict=_problem("The application can no longer change."),
        invalid=_problem("The role is not one you may apply for.", "ValidationProblem"),
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
        """
        self._api_applicant(request)
        return self._api_view("resend_verification")

    api_resend_verification.__doc__ = api_resend_verification.__doc__.format(
        application=_APPLICATION,
        missing=_problem("You have not started an application."),
        conflict=_problem("The address is verified already, or the application is closed."),
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
        return _json(EmailVerifiedSchema().dump(verified))

    api_verify_email.__doc__ = api_verify_email.__doc__.format(
        invalid=_problem("The link is not valid, expired, or was used already.")
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
            raise _invalid(errors, ERRORS["FormInvalid"][1])
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
                raise _form_invalid(exc) from None
            raise
        return _json(ApplicationSchema().dump(saved))

    api_save_form.__doc__ = api_save_form.__doc__.format(
        application=_APPLICATION,
        missing=_problem("You have not started an application."),
        conflict=_problem("The application cannot be edited now (it is with a reviewer)."),
        invalid=_problem("Fields are missing or not valid: each is named.", "ValidationProblem"),
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
        return _json(ApplicationSchema(only=("documents",)).dump(view)["documents"])

    api_my_documents.__doc__ = api_my_documents.__doc__.format(
        missing=_problem("You have not started an application.")
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
            raise _invalid(errors, "The upload was refused")
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
                raise _invalid({"file": str(exc.value)}, ERRORS["DocumentRejected"][1]) from None
            raise
        return _json(ApplicationSchema().dump(view), 201)

    api_upload_document.__doc__ = api_upload_document.__doc__.format(
        application=_APPLICATION,
        missing=_problem("You have not started an application."),
        conflict=_problem("The application cannot be edited now."),
        too_large=_problem(f"The file is over {MAX_MB} MB (the request over 11 MB)."),
        invalid=_problem(
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
        return _file(base64.b64decode(found["content"]), found["filename"], found["content_type"])

    api_my_document.__doc__ = api_my_document.__doc__.format(
        document_id=_DOCUMENT_ID, file=_FILE, missing=_problem("There is no such document.")
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
        document_id=_DOCUMENT_ID,
        application=_APPLICATION,
        missing=_problem("There is no such document, or no application."),
        conflict=_problem("The application cannot be edited now."),
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
        return _json(AgreementSchema().dump(self._api_registration("agreement")))

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
        application=_APPLICATION,
        missing=_problem("You have not started an application."),
        conflict=_problem(
            "The agreement changed since that version (read it again), or the application "
            "cannot be edited now."
        ),
        invalid=_problem("The body is not valid.", "ValidationProblem"),
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
        return _file(pdf, "Registration confirmation.pdf", "application/pdf")

    api_confirmation_pdf.__doc__ = api_confirmation_pdf.__doc__.format(
        missing=_problem("You have not started an application.")
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
        application=_APPLICATION,
        missing=_problem("You have not started an application."),
        conflict=_problem("The application was submitted already."),
        incomplete=_problem("Something is missing; `detail` lists what."),
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
        application=_APPLICATION,
        missing=_problem("You have no registration."),
        conflict=_problem("Only an approved registration can be renewed."),
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
            raise _invalid(
                {forms.FORM_ERROR: "Change at least one of: " + ", ".join(forms.PROFILE_FIELDS)},
                "Nothing to change",
            )
        _, errors = forms.validate_profile_change(changes)
        if errors:
            raise _invalid(dict(errors), ERRORS["FormInvalid"][1])
        try:
            view = self._api_registration("request_profile_change", changes=changes)
        except RemoteError as exc:
            if exc.exc_type == "FormInvalid":
                raise _form_invalid(exc) from None
            raise
        return _json(ApplicationSchema().dump(view))

    api_request_profile_change.__doc__ = api_request_profile_change.__doc__.format(
        application=_APPLICATION,
        missing=_problem("You have no registration."),
        conflict=_problem("Only an approved registration can change, one request at a time."),
        invalid=_problem("Nothing to change, or a field is not valid.", "ValidationProblem"),
    )

    # -- supervisors ---------------------------------------------------------------------------

    @http("GET", "/api/delegates")
    def api_delegate_requests(self, request: Request) -> Response:
        """Delegates waiting for you.
        ---
        get:
          summary: Applications of delegates who named you as their supervisor
          description: Needs the permission `delegate.supervise`.
          security:
            - sessionToken: []
          responses:
            200:
              description: Oldest first.
              content:
                application/json:
                  schema: ApplicationSummaries
            401: NotSignedIn
            403: RoleRefused
        """
        self.auth.require(request, self.services, Permission.DELEGATE_SUPERVISE)
        items = self._api_registration("delegate_requests")
        return _json(ApplicationSummariesSchema().dump({"items": items}))

    @http("POST", "/api/delegates/<uuid:account_id>/<decision>")
    def api_decide_delegate(
        self, request: Request, account_id: uuid.UUID, decision: str
    ) -> Response:
        """Approve or decline a delegate.
        ---
        post:
          summary: Approve (on to the administrators) or decline (with a reason) a delegate
          description: Needs the permission `delegate.supervise`; only the named supervisor.
          security:
            - sessionToken: []
          parameters:{account_id}
            - in: path
              name: decision
              required: true
              schema:
                type: string
                enum: [approve, decline]
          requestBody:
            content:
              application/json:
                schema: Decision
          responses:
            200:
              description: Decided.{application}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            409:{conflict}
            422:{invalid}
        """
        if decision not in {"approve", "decline"}:
            raise Problem(404, "Not found", "A delegate is approved or declined.")
        self.auth.require(request, self.services, Permission.DELEGATE_SUPERVISE)
        body = load_body(DecisionSchema(), request)
        if decision == "decline" and not body.get("reason"):
            raise _invalid({"reason": "Give the reason; the delegate is told it."})
        return self._api_view(
            "decide_delegate",
            account_id=str(account_id),
            approve=decision == "approve",
            reason=body.get("reason", ""),
        )

    api_decide_delegate.__doc__ = api_decide_delegate.__doc__.format(
        account_id=_ACCOUNT_ID,
        application=_APPLICATION,
        missing=_problem("There is no such application."),
        conflict=_problem("It is not waiting for your decision."),
        invalid=_problem("Declining needs a reason.", "ValidationProblem"),
    )

    # -- administrators ------------------------------------------------------------------------

    @http("GET", "/api/registrations")
    def api_review_queue(self, request: Request) -> Response:
        """The review queue.
        ---
        get:
          summary: Applications with a status (default `submitted`), oldest first, a page at a
            time
          description: Needs the permission `registration.review`.
          security:
            - sessionToken: []
          parameters:
            - in: query
              schema: ReviewQuerySchema
          responses:
            200:
              description: One page.
              content:
                application/json:
                  schema: ReviewQueue
            401: NotSignedIn
            403: RoleRefused
            422:{invalid}
        """
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        query = load_data(ReviewQuerySchema(), request.args.to_dict())
        found = self._api_registration("review_queue", status=query["status"], page=query["page"])
        return _json(ReviewQueueSchema().dump(found))

    api_review_queue.__doc__ = api_review_queue.__doc__.format(
        invalid=_problem("A query parameter is not valid.", "ValidationProblem")
    )

    @http("GET", "/api/registrations/<uuid:account_id>")
    def api_get_application(self, request: Request, account_id: uuid.UUID) -> Response:
        """One application, with its history.
        ---
        get:
          summary: One application as administrators see it, with its history
          description: Needs the permission `registration.review`.
          security:
            - sessionToken: []
          parameters:{account_id}
          responses:
            200:
              description: The application.
              content:
                application/json:
                  schema: ApplicationDetails
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
        """
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        view = self._api_registration("get_application", account_id=str(account_id))
        return _json(ApplicationDetailsSchema().dump(view))

    api_get_application.__doc__ = api_get_application.__doc__.format(
        account_id=_ACCOUNT_ID, missing=_problem("There is no application for this account.")
    )

    @http("POST", "/api/registrations/<uuid:account_id>/<action>")
    def api_decide_application(
        self, request: Request, account_id: uuid.UUID, action: str
    ) -> Response:
        """Decide on a submitted application.
        ---
        post:
          summary: Approve, reject (with `reason`) or ask for more information (with
            `message`); the applicant is emailed
          description: >
            Needs the permission `registration.review`. Approving gives the account its role
            and its renewal date; asking for information opens the application again.
          security:
            - sessionToken: []
          parameters:{account_id}
            - in: path
              name: action
              required: true
              schema:
                type: string
                enum: [approve, reject, request-information]
          requestBody:
            content:
              application/json:
                schema: Decision
          responses:
            200:
              description: Decided.{application}
            401: NotSignedIn
            403:{refused}
            404:{missing}
            409:{conflict}
            422:{invalid}
        """
        needs = {"approve": None, "reject": "reason", "request-information": "message"}
        if action not in needs:
            raise Problem(404, "Not found", "There is no such decision on an application.")
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        body = load_body(DecisionSchema(), request)
        kwargs: dict[str, Any] = {"account_id": str(account_id)}
        field = needs[action]
        if field is not None:
            if not body.get(field):
                what = "the reason" if field == "reason" else "what the applicant must send"
                raise _invalid({field: f"Write {what}; the applicant is emailed it."})
            kwargs[field] = body[field]
        return self._api_view(action.replace("-", "_"), **kwargs)

    api_decide_application.__doc__ = api_decide_application.__doc__.format(
        account_id=_ACCOUNT_ID,
        application=_APPLICATION,
        refused=_problem("Your role does not allow this, or it is your own application."),
        missing=_problem("There is no application for this account."),
        conflict=_problem("The application is not waiting for a decision."),
        invalid=_problem("The reason or message is missing.", "ValidationProblem"),
    )

    @http("GET", "/api/registrations/<uuid:account_id>/documents/<uuid:document_id>")
    def api_application_document(
        self, request: Request, account_id: uuid.UUID, document_id: uuid.UUID
    ) -> Response:
        """A document of an application.
        ---
        get:
          summary: Download a document of any application
          description: Needs the permission `registration.review`. Always an attachment.
          security:
            - sessionToken: []
          parameters:{account_id}{document_id}
          responses:
            200:
              description: The file, with its content type.{file}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
        """
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        found = self._api_registration(
            "document", account_id=str(account_id), document_id=str(document_id)
        )
        return _file(base64.b64decode(found["content"]), found["filename"], found["content_type"])

    api_application_document.__doc__ = api_application_document.__doc__.format(
        account_id=_ACCOUNT_ID,
        document_id=_DOCUMENT_ID,
        file=_FILE,
        missing=_problem("There is no such document."),
    )

    @http("GET", "/api/renewal-policy")
    def api_renewal_policy(self, request: Request) -> Response:
        """The renewal periods.
        ---
        get:
          summary: How many years each role's registration lasts before renewal
          description: Needs the permission `registration.review`.
          security:
            - sessionToken: []
          responses:
            200:
              description: The policy.
              content:
                application/json:
                  schema: RenewalPolicy
            401: NotSignedIn
            403: RoleRefused
        """
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        return _json(RenewalPolicySchema().dump(self._api_registration("renewal_policy")))

    @http("PUT", "/api/renewal-policy")
    def api_set_renewal_policy(self, request: Request) -> Response:
        """Change renewal periods.
        ---
        put:
          summary: Set the years of one or more roles; approved users' renewal dates move
          description: Needs the permission `registration.review`. Roles left out keep theirs.
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: RenewalPolicy
          responses:
            200:
              description: The policy now.
              content:
                application/json:
                  schema: RenewalPolicy
            401: NotSignedIn
            403: RoleRefused
            422:{invalid}
        """
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        body = load_body(RenewalPolicySchema(), request)
        current = self._api_registration("renewal_policy")["years"]
        policy = None
        for role, years in body["years"].items():
            if current.get(role) != years:
                policy = self._api_registration("set_renewal_years", role=role, years=years)
        if policy is None:
            policy = self._api_registration("renewal_policy")
        return _json(RenewalPolicySchema().dump(policy))

    api_set_renewal_policy.__doc__ = api_set_renewal_policy.__doc__.format(
        invalid=_problem("A role or a number of years (1 to 10) is not valid.", "ValidationProblem")
    )

    @http("GET", "/api/profile-changes")
    def api_profile_changes(self, request: Request) -> Response:
        """Profile changes waiting for a decision.
        ---
        get:
          summary: Registered users who asked for a profile change, oldest first
          description: >
            Needs the permission `registration.review`. GET /api/registrations/{account_id}
            shows the change asked for (`profile_change`).
          security:
            - sessionToken: []
          responses:
            200:
              description: The requests.
              content:
                application/json:
                  schema: ApplicationSummaries
            401: NotSignedIn
            403: RoleRefused
        """
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        items = self._api_registration("profile_changes")
        return _json(ApplicationSummariesSchema().dump({"items": items}))

    @http("POST", "/api/profile-changes/<uuid:account_id>/<decision>")
    def api_decide_profile_change(
        self, request: Request, account_id: uuid.UUID, decision: str
    ) -> Response:
        """Approve or reject a profile change.
        ---
        post:
          summary: Approve or reject (with a reason) a profile change; the user is emailed
          description: Needs the permission `registration.review`.
          security:
            - sessionToken: []
          parameters:{account_id}
            - in: path
              name: decision
              required: true
              schema:
                type: string
                enum: [approve, reject]
          requestBody:
            content:
              application/json:
                schema: Decision
          responses:
            200:
              description: Decided.{application}
            401: NotSignedIn
            403: RoleRefused
            404:{missing}
            409:{conflict}
            422:{invalid}
        """
        if decision not in {"approve", "reject"}:
            raise Problem(404, "Not found", "A profile change is approved or rejected.")
        self.auth.require(request, self.services, Permission.REGISTRATION_REVIEW)
        body = load_body(DecisionSchema(), request)
        if decision == "reject" and not body.get("reason"):
            raise _invalid({"reason": "Give the reason; the user is told it."})
        return self._api_view(
            "decide_profile_change",
            account_id=str(account_id),
            approve=decision == "approve",
            reason=body.get("reason", ""),
        )

    api_decide_profile_change.__doc__ = api_decide_profile_change.__doc__.format(
        account_id=_ACCOUNT_ID,
        application=_APPLICATION,
        missing=_problem("There is no registration for this account."),
        conflict=_problem("No profile change is waiting."),
        invalid=_problem("Rejecting needs a reason.", "ValidationProblem"),
    )


def _too_large() -> Problem:
    return Problem(
        413,
        "The file is too large",
        TOO_LARGE,
        extensions={"errors": {"file": TOO_LARGE}, "max_bytes": MAX_BYTES},
    )
