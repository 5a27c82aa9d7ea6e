"""marshmallow schemas of the JSON API: they validate requests and document responses."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from gateway.problems import Problem
from services.identity.roles import Role


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String()
    correlation_id = fields.UUID(metadata={"description": "Quote it to the help desk."})


class ComponentHealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok", "down"]))
    latency_ms = fields.Float(allow_none=True)
    error = fields.String()


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok", "degraded"]))
    checked_at = fields.AwareDateTime(required=True)
    broker = fields.Nested(ComponentHealthSchema, required=True)
    services = fields.Dict(
        keys=fields.String(), values=fields.Nested(ComponentHealthSchema), required=True
    )


class ProbeCreatedSchema(Schema):
    probe_id = fields.UUID(required=True)
    recorded = fields.List(fields.String(), required=True)
    failed = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    status_url = fields.String(required=True)


class ProbeStatusSchema(Schema):
    probe_id = fields.UUID(required=True)
    complete = fields.Boolean(
        required=True, metadata={"description": "Every service's probe reached the query service."}
    )
    arrived = fields.Dict(keys=fields.String(), values=fields.AwareDateTime(), required=True)
    missing = fields.List(fields.String(), required=True)


# -- loading request bodies ----------------------------------------------------------------------


def load_body(schema: Schema, request: Any) -> dict[str, Any]:
    """The request's JSON body, validated by ``schema``; a 422 problem naming each bad field."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except ValueError:
            raise Problem(
                400, "The request body is not JSON", "Send a JSON object as the body."
            ) from None
    return load_data(schema, data)


def load_data(schema: Schema, data: Any) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise Problem(
            422,
            "The request was refused: a field is not valid",
            "Fix the fields named in `errors` and send it again: " + ", ".join(sorted(messages)),
            extensions={"errors": messages},
        ) from None


class ValidationProblemSchema(ProblemSchema):
    """A problem whose request fields were not valid: each bad field with its messages."""

    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        metadata={"description": "Field name -> what is wrong with it."},
    )


# -- sessions and the signed-in user's own account -----------------------------------------------

STAGES = ["mfa", "change_password", "enrol_mfa", "ready"]


class PrincipalSchema(Schema):
    """Who is signed in, and the sign-in step they are at."""

    account_id = fields.UUID(required=True)
    session_id = fields.UUID(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    role_title = fields.String(required=True)
    status = fields.String(required=True)
    stage = fields.String(
        required=True,
        validate=validate.OneOf(STAGES),
        metadata={"description": "What the session must do next; only `ready` may do work."},
    )
    permissions = fields.List(fields.String(), required=True)
    mfa_enrolled = fields.Boolean(required=True)
    security_questions_set = fields.Boolean(required=True)
    password_expires_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    last_sign_in_at = fields.String(allow_none=True, metadata={"format": "date-time"})


class SignInSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class SessionCreatedSchema(Schema):
    token = fields.String(
        required=True, metadata={"description": "Send it as Authorization: Bearer <token>."}
    )
    principal = fields.Nested(PrincipalSchema, required=True)


class MfaCodeSchema(Schema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The 6-digit code from the authenticator, or a recovery code."},
    )


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class MfaEnrolmentSchema(Schema):
    secret = fields.String(required=True, metadata={"description": "The TOTP seed (base32)."})
    otpauth_uri = fields.String(required=True, metadata={"description": "For a QR code."})


class MfaConfirmationSchema(Schema):
    secret = fields.String(required=True, validate=validate.Length(min=16, max=128))
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$"))


class MfaEnrolledSchema(Schema):
    recovery_codes = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Each works once in place of a code; shown only now."},
    )
    principal = fields.Nested(PrincipalSchema, required=True)


class SecurityQuestionsSchema(Schema):
    questions = fields.List(fields.String(), required=True)


class SecurityAnswersSetSchema(Schema):
    questions = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        required=True,
        validate=validate.Length(equal=3),
    )
    answers = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        required=True,
        validate=validate.Length(equal=3),
    )


class PasswordResetRequestSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))


class PasswordResetAcceptedSchema(Schema):
    detail = fields.String(required=True)


class PasswordResetSchema(Schema):
    answers = fields.List(
        fields.String(validate=validate.Length(max=200)),
        required=True,
        validate=validate.Length(min=1, max=10),
    )
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


# -- administrators --------------------------------------------------------------------------

ROLES = [str(role) for role in Role]
STATUSES = ["active", "suspended", "revoked", "removed"]


class AccountQuerySchema(Schema):
    q = fields.String(load_default="", validate=validate.Length(max=200))
    status = fields.String(load_default="", validate=validate.OneOf(["", *STATUSES]))
    role = fields.String(load_default="", validate=validate.OneOf(["", *ROLES]))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))


class ListedAccountSchema(Schema):
    account_id = fields.UUID(required=True)
    email = fields.String(required=True)
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    role = fields.String(required=True)
    role_title = fields.String(required=True)
    status = fields.String(required=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    last_sign_in_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    locked_until = fields.String(allow_none=True, metadata={"format": "date-time"})
    mfa_enrolled = fields.Boolean(required=True)


class AccountListSchema(Schema):
    accounts = fields.List(fields.Nested(ListedAccountSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)


class AccountEventSchema(Schema):
    type = fields.String(required=True)
    occurred_at = fields.String(required=True, metadata={"format": "date-time"})
    actor_id = fields.String(allow_none=True)
    actor_role = fields.String(allow_none=True)
    details = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)


class AccountDetailsSchema(Schema):
    account_id = fields.UUID(required=True)
    email = fields.String(required=True)
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    role = fields.String(required=True)
    role_title = fields.String(required=True)
    address_lines = fields.List(fields.String(), required=True)
    status = fields.String(required=True)
    locked = fields.Boolean(required=True)
    locked_until = fields.String(allow_none=True, metadata={"format": "date-time"})
    failed_attempts = fields.Integer(required=True)
    mfa_enrolled = fields.Boolean(required=True)
    security_questions_set = fields.Boolean(required=True)
    temporary_password_until = fields.String(allow_none=True, metadata={"format": "date-time"})
    password_expires_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    open_sessions = fields.Integer(required=True)
    created_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    last_sign_in_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    history = fields.List(fields.Nested(AccountEventSchema), required=True)


class NewAccountSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    address_lines = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        required=True,
        validate=validate.Length(min=1, max=6),
    )


class CredentialLetterSchema(Schema):
    account_id = fields.UUID(required=True)
    credential_letter_pdf = fields.String(
        required=True,
        metadata={"description": "The letter with the temporary password (PDF, base64)."},
    )


class ReasonSchema(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=3, max=500),
        metadata={"description": "Why; kept in the account's history."},
    )


class RoleChangeSchema(ReasonSchema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class AccountActionSchema(Schema):
    account_id = fields.UUID(required=True)


# Every schema named in the handlers' docstrings: the OpenAPI document's components.
DOCUMENTED = (
    "Problem",
    "ValidationProblem",
    "Health",
    "ProbeCreated",
    "ProbeStatus",
    "Principal",
    "SignIn",
    "SessionCreated",
    "MfaCode",
    "PasswordChange",
    "MfaEnrolment",
    "MfaConfirmation",
    "MfaEnrolled",
    "SecurityQuestions",
    "SecurityAnswersSet",
    "PasswordResetRequest",
    "PasswordResetAccepted",
    "PasswordReset",
    "ListedAccount",
    "AccountList",
    "AccountEvent",
    "AccountDetails",
    "NewAccount",
    "CredentialLetter",
    "Reason",
    "RoleChange",
    "AccountAction",
)
