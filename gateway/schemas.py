"""marshmallow schemas of the JSON API: they validate requests and document responses."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from gateway.problems import Problem
from services.alerts.policy import PolicySchema
from services.alerts.schemas import Acknowledgement
from services.helpdesk.policy import PolicySchema as HelpdeskPolicyFields
from services.helpdesk.schemas import NewTicket
from services.identity.roles import ASSIGNABLE_ROLE_TITLES, Role
from services.query.schemas import Purpose, SearchRequest
from services.registration.forms import APPLICABLE_ROLES, fields_for


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


class ProjectionHealthSchema(Schema):
    """A projection, reaction or relay as the replica that answered the ping sees it."""

    service = fields.String(required=True)
    kind = fields.String(
        required=True, validate=validate.OneOf(["projection", "reaction", "relay"])
    )
    status = fields.String(
        required=True,
        validate=validate.OneOf(["ok", "behind", "failing", "set_aside"]),
        metadata={
            "description": "behind: lag over PMP_PROJECTION_LAG_LIMIT; failing: its last try "
            "failed (see error) and it is retrying; set_aside: events it could not apply wait "
            "for an operator (pmp projections set-aside)."
        },
    )
    error = fields.String(
        allow_none=True,
        metadata={"description": "Why its last try failed; null when it succeeded."},
    )
    failing_since = fields.String(
        allow_none=True,
        metadata={"description": "When its tries started failing (ISO 8601); null if not."},
    )
    lag_seconds = fields.Float(
        allow_none=True,
        metadata={
            "description": "How long the oldest event not yet applied has waited; 0 when "
            "caught up; null when another replica of the service runs it."
        },
    )
    set_aside = fields.Integer(required=True)
    leads = fields.Boolean(required=True)
    positions = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok", "degraded"]))
    checked_at = fields.AwareDateTime(required=True)
    broker = fields.Nested(ComponentHealthSchema, required=True)
    services = fields.Dict(
        keys=fields.String(), values=fields.Nested(ComponentHealthSchema), required=True
    )
    projections = fields.Dict(
        keys=fields.String(), values=fields.Nested(ProjectionHealthSchema), required=True
    )
    lag_limit_seconds = fields.Float(required=True)


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


class RefusalProblemSchema(ProblemSchema):
    """A 403: the role does not allow it, or the session must first finish signing in."""

    stage = fields.String(
        validate=validate.OneOf(STAGES),
        metadata={"description": "Only when the session must first finish signing in: the step."},
    )


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
    access_until = fields.String(
        allow_none=True,
        metadata={
            "format": "date",
            "description": "The registration's renewal date: from it on, patient data is "
            "withheld until a renewal is approved.",
        },
    )
    renewal_due = fields.Boolean(
        metadata={"description": "The renewal date has come; renew to search again."}
    )


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
    secret = fields.String(
        required=True,
        validate=[
            validate.Length(min=24, max=128),  # 120 bits at least: pyotp wants 112
            # base32 in whole 8-character groups, as POST /api/me/mfa gives it
            validate.Regexp(r"^(?:[A-Za-z2-7]{8})+$", error="Not a base32 secret."),
        ],
        metadata={"description": "The secret POST /api/me/mfa gave (base32)."},
    )
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
ASSIGNABLE = [str(role) for role in ASSIGNABLE_ROLE_TITLES]  # applicants sign up instead
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
    granted_permissions = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Granted beyond the role by an administrator (in force only "
                  "while also in grantable_permissions)."},
    )  # fmt: skip
    grantable_permissions = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "What may be granted to this account's role."},
    )
    created_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    last_sign_in_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    history = fields.List(fields.Nested(AccountEventSchema), required=True)


class NewAccountSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.OneOf(ASSIGNABLE))
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
    role = fields.String(required=True, validate=validate.OneOf(ASSIGNABLE))


class PermissionGrantSchema(ReasonSchema):
    """A permission given to (granted: true) or taken from one account beyond its role."""

    permission = fields.String(
        required=True,
        validate=validate.OneOf(["mm_registry.verify"]),
        metadata={"description": "What may be granted: the registry, to prescribers and "
                  "pharmacists."},
    )  # fmt: skip
    granted = fields.Boolean(required=True)


class AccountActionSchema(Schema):
    account_id = fields.UUID(required=True)


class CredentialRequestSchema(ReasonSchema):
    """A credential action (temporary password, unlock, authenticator reset): the help desk
    names the open access ticket of the account it acts from."""

    ticket_id = fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={"description": "The open access ticket of this account (help desk: needed)."},
    )


OUTCOMES = ["done", "queued", "in_hand", "awaiting_approval", "declined"]


class CredentialOutcomeSchema(Schema):
    """What became of a credential action: done; a letter queued for the mail room (never
    the letter itself); a letter handed to the administrator (staff accounts); or waiting for
    a second administrator (administrators' accounts)."""

    account_id = fields.UUID(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    letter_id = fields.UUID(allow_none=True)
    request_id = fields.UUID(allow_none=True)
    credential_letter_pdf = fields.String(
        allow_none=True,
        metadata={"description": "in_hand only: the letter (PDF, base64), to hand over."},
    )


class ResetRequestSchema(Schema):
    """A reset of an administrator waiting for a second administrator."""

    request_id = fields.UUID(required=True)
    account_id = fields.UUID(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    action = fields.String(required=True)
    action_title = fields.String(required=True)
    reason = fields.String(required=True)
    requested_by = fields.String(required=True)
    requested_by_name = fields.String(required=True)
    requested_at = fields.String(required=True, metadata={"format": "date-time"})
    expires_at = fields.String(required=True, metadata={"format": "date-time"})


class ResetDecisionSchema(Schema):
    reason = fields.String(
        load_default="", validate=validate.Length(max=500),
        metadata={"description": "Why (declining)."},
    )  # fmt: skip


class QueuedLetterSchema(Schema):
    """A credential letter in the mail room's queue; the password is never in it."""

    letter_id = fields.UUID(required=True)
    account_id = fields.UUID(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True)
    role_title = fields.String(required=True)
    queued_at = fields.String(required=True, metadata={"format": "date-time"})
    stage = fields.String(required=True, validate=validate.OneOf(["waiting", "printed"]))
    printed_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    address_lines = fields.List(
        fields.String(), allow_none=True,
        metadata={"description": "Where it goes; null: no postal address on file."},
    )  # fmt: skip


class LetterPostedSchema(Schema):
    letter_id = fields.UUID(required=True)
    account_id = fields.UUID(required=True)
    stage = fields.String(required=True)


# -- registration ------------------------------------------------------------------------------

APPLICABLE = [str(role) for role in APPLICABLE_ROLES]
APPLICATION_STATUSES = [
    "draft",
    "awaiting_supervisor",
    "submitted",
    "information_requested",
    "approved",
    "rejected",
    "closed_incomplete",
]
_DATE_TIME = {"format": "date-time"}


class SignUpSchema(Schema):
    email = fields.Email(
        required=True,
        validate=validate.Length(max=254),
        metadata={"description": "Your work address: the link to go on is sent there."},
    )


class SignUpAcceptedSchema(Schema):
    detail = fields.String(required=True)


class SignUpCompletionSchema(Schema):
    password = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1024),
        metadata={"description": "Your own password; the password rules apply."},
    )


class TicketConfirmedSchema(Schema):
    reference = fields.String(required=True, metadata={"description": "T- and 8 characters."})


class RoleChoiceSchema(Schema):
    role = fields.String(
        required=True,
        validate=validate.OneOf(APPLICABLE),
        metadata={"description": "The role you apply for."},
    )


class ApplicationDocumentSchema(Schema):
    document_id = fields.UUID(required=True)
    filename = fields.String(required=True)
    content_type = fields.String(
        required=True, validate=validate.OneOf(["application/pdf", "image/jpeg", "image/png"])
    )
    size = fields.Integer(required=True, metadata={"description": "Bytes."})
    description = fields.String(required=True)
    uploaded_at = fields.String(required=True, metadata=_DATE_TIME)


class AcceptedAgreementSchema(Schema):
    version = fields.String(required=True)
    accepted_at = fields.String(required=True, metadata=_DATE_TIME)


class SupervisorSchema(Schema):
    account_id = fields.UUID(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    decision = fields.String(
        required=True, validate=validate.OneOf(["pending", "approved", "declined"])
    )
    reason = fields.String(allow_none=True)


class ApplicationStepSchema(Schema):
    key = fields.String(
        required=True, validate=validate.OneOf(["email", "form", "documents", "agreement"])
    )
    title = fields.String(required=True)
    done = fields.Boolean(required=True)


class ProfileChangeRequestedSchema(Schema):
    changes = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    requested_at = fields.String(required=True, metadata=_DATE_TIME)


class ApplicationSchema(Schema):
    """A registration as its applicant (and the program) see it."""

    account_id = fields.UUID(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(APPLICABLE))
    role_title = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(APPLICATION_STATUSES))
    status_title = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["application", "renewal"]))
    email_verified = fields.Boolean(required=True)
    verification_sent_at = fields.String(allow_none=True, metadata=_DATE_TIME)
    form = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "The saved form (empty until saved); see RegistrationForm."},
    )
    documents = fields.List(fields.Nested(ApplicationDocumentSchema), required=True)
    agreement = fields.Nested(AcceptedAgreementSchema, allow_none=True, required=True)
    supervisor = fields.Nested(
        SupervisorSchema,
        allow_none=True,
        required=True,
        metadata={"description": "A delegate's supervisor and their decision."},
    )
    steps = fields.List(fields.Nested(ApplicationStepSchema), required=True)
    missing = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "What still stops submitting, in words."},
    )
    can_submit = fields.Boolean(required=True)
    editable = fields.Boolean(required=True)
    started_at = fields.String(allow_none=True, metadata=_DATE_TIME)
    submitted_at = fields.String(allow_none=True, metadata=_DATE_TIME)
    decided_at = fields.String(allow_none=True, metadata=_DATE_TIME)
    approved_at = fields.String(allow_none=True, metadata=_DATE_TIME)
    renewal_due = fields.String(
        allow_none=True,
        metadata={"format": "date", "description": "From this date on, access is withheld."},
    )
    information_request = fields.String(allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    profile_change = fields.Nested(ProfileChangeRequestedSchema, allow_none=True)


class ApplicationEventSchema(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    at = fields.String(required=True, metadata=_DATE_TIME)
    actor_id = fields.String(allow_none=True)
    actor_role = fields.String(allow_none=True)
    details = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)


class ApplicationDetailsSchema(ApplicationSchema):
    history = fields.List(fields.Nested(ApplicationEventSchema), required=True)


class EmailVerifiedSchema(Schema):
    account_id = fields.UUID(required=True)
    verified = fields.Boolean(required=True)


def _form_fields() -> dict[str, fields.Field]:
    """Every field of every role's form, documented with the roles that ask it."""
    asked: dict[str, tuple[str, list[str]]] = {}
    for role in APPLICABLE_ROLES:
        for spec in fields_for(str(role)):
            label, roles = asked.setdefault(spec.name, (spec.label, []))
            roles.append(str(role))
    found: dict[str, fields.Field] = {}
    for name, (label, roles) in asked.items():
        who = "every role" if len(roles) == len(APPLICABLE_ROLES) else ", ".join(roles)
        found[name] = fields.String(
            allow_none=True,
            validate=validate.Length(max=500),
            metadata={"description": f"{label} ({who})."},
        )
    return found


class _SecurityQuestionsMixin(Schema):
    questions = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(equal=3),
        metadata={
            "description": "Three different questions from GET /api/security-questions; "
            "required until your security questions are set."
        },
    )
    answers = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(equal=3),
        metadata={"description": "Their answers, in the same order."},
    )


RegistrationFormSchema = type(
    "RegistrationFormSchema",
    (_SecurityQuestionsMixin,),
    {
        **_form_fields(),
        "__doc__": "The registration form of the applicant's role, and the security questions. "
        "Which fields are required depends on the role; each mistake is named in `errors`.",
    },
)


class AgreementSectionSchema(Schema):
    heading = fields.String(required=True)
    items = fields.List(fields.String(), required=True)


class AgreementSchema(Schema):
    version = fields.String(required=True)
    title = fields.String(required=True)
    sections = fields.List(fields.Nested(AgreementSectionSchema), required=True)


class AgreementAcceptanceSchema(Schema):
    version = fields.String(
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "The version of the text read (GET /api/registration/agreement)."},
    )


class ProfileChangeSchema(Schema):
    first_name = fields.String(validate=validate.Length(max=100))
    last_name = fields.String(validate=validate.Length(max=100))
    facility = fields.String(validate=validate.Length(max=200))
    job = fields.String(validate=validate.Length(max=100))


class ApplicationSummarySchema(Schema):
    account_id = fields.UUID(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    role_title = fields.String(required=True)
    status = fields.String(required=True)
    status_title = fields.String()
    kind = fields.String(required=True)
    submitted_at = fields.String(allow_none=True, metadata=_DATE_TIME)
    renewal_due = fields.String(allow_none=True, metadata={"format": "date"})
    waiting_days = fields.Integer(required=True)
    profile_change_requested_at = fields.String(allow_none=True, metadata=_DATE_TIME)


class ApplicationSummariesSchema(Schema):
    items = fields.List(fields.Nested(ApplicationSummarySchema), required=True)


class ReviewQuerySchema(Schema):
    status = fields.String(load_default="submitted", validate=validate.OneOf(APPLICATION_STATUSES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))


class ReviewQueueSchema(Schema):
    items = fields.List(
        fields.Nested(ApplicationSummarySchema),
        required=True,
        metadata={"description": "Oldest first."},
    )
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    pages = fields.Integer(required=True)


class DecisionSchema(Schema):
    reason = fields.String(
        validate=validate.Length(min=3, max=500),
        metadata={"description": "Required to reject or decline; the person is emailed it."},
    )
    message = fields.String(
        validate=validate.Length(min=3, max=2000),
        metadata={"description": "Required to request information: what the applicant must send."},
    )


class RenewalPolicySchema(Schema):
    years = fields.Dict(
        keys=fields.String(validate=validate.OneOf(APPLICABLE)),
        values=fields.Integer(validate=validate.Range(min=1, max=10)),
        required=True,
        metadata={"description": "Role -> years between approval and the renewal date."},
    )


# Every schema named in the handlers' docstrings: the OpenAPI document's components.
class SubmissionCountsSchema(Schema):
    """What the file recorded; of a test file, what it would have recorded."""

    version = fields.String(metadata={"description": "The ASAP version the file declared."})
    records = fields.Integer(metadata={"description": "Dispensation records in the file."})
    recorded = fields.Integer(metadata={"description": "New dispensations recorded."})
    revised = fields.Integer()
    voided = fields.Integer()
    rejected = fields.Integer(metadata={"description": "Records refused: see the report."})
    unknown_ndc = fields.Integer(
        metadata={"description": "Recorded, but their NDC is not in the drug reference."}
    )
    marijuana = fields.Integer(
        metadata={
            "description": "Of those recorded, revised or voided: a dispensary's medical "
            "marijuana dispensations (DSP07 MM), linked to registry cards by number."
        }
    )
    zero_report = fields.Boolean()


class SubmissionSchema(Schema):
    submission_id = fields.UUID(required=True)
    status = fields.String(
        required=True,
        metadata={
            "description": "received (being recorded), accepted, tested (a test file, TH07 "
            "T: checked, nothing recorded), rejected (the whole file), duplicate, or "
            "interrupted (stopped part-way: send the same file again to finish it; nothing "
            "is recorded twice)."
        },
    )
    test_file = fields.Boolean(
        metadata={
            "description": "A test file (TH07 T): its counts and report are what a production "
            "file would have done; nothing of it is recorded."
        }
    )
    summary = fields.String(
        metadata={
            "description": "A tested file's outcome in one line: 'test file: N records would "
            "have been accepted, M refused; nothing was recorded'."
        }
    )
    filename = fields.String()
    size = fields.Integer()
    received_at = fields.String(metadata={"format": "date-time"})
    reason = fields.String(
        metadata={"description": "Why the file was rejected, or why it did not finish."}
    )
    duplicate_of = fields.UUID(
        metadata={"description": "The earlier submission of the same file, counted once."}
    )
    counts = fields.Nested(SubmissionCountsSchema)
    error_count = fields.Integer()


class UnfinishedProblemSchema(ProblemSchema):
    """A file that did not finish: what of it is recorded (once), under which submission."""

    submission_id = fields.UUID(
        metadata={"description": "The file's submission, when the service could say."}
    )
    counts = fields.Nested(
        SubmissionCountsSchema, metadata={"description": "What is recorded of it so far."}
    )


class SubmissionErrorSchema(Schema):
    """One error of a submission's report: where it is in the file, what was sent, what to
    do. ASAP allows a file without line breaks, where every error is on line 1: the segment's
    place and first byte find it there."""

    segment_number = fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "The segment's place in the file, counting from 1 (the TH segment "
            "is 1). Null for errors reported before it was given."
        },
    )
    line = fields.Integer(
        required=True, metadata={"description": "The line the segment starts on, from 1."}
    )
    byte_offset = fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "Where the segment starts: the number of bytes before its first "
            "character (the file's first byte is 0). Null for errors reported before it was "
            "given."
        },
    )
    segment = fields.String(required=True)
    field = fields.String(required=True)
    value = fields.String(required=True)
    message = fields.String(required=True)
    severity = fields.String(
        required=True,
        validate=validate.OneOf(["error", "note"]),
        metadata={
            "description": "error: the record (or the file) was refused for it. note: an "
            "element that was not ASCII or UTF-8 text, read as Latin-1 and kept; check it."
        },
    )


class SubmissionErrorsSchema(Schema):
    errors = fields.List(fields.Nested(SubmissionErrorSchema), required=True)


class CandidateScoreSchema(Schema):
    person_id = fields.UUID(required=True)
    score = fields.Float(required=True)


class PatientRecordSchema(Schema):
    """A patient as one pharmacy reported them (the index keeps each distinct version)."""

    patient_record = fields.Integer(required=True)
    person_id = fields.UUID(required=True)
    first_name = fields.String()
    middle_name = fields.String()
    last_name = fields.String()
    dob = fields.String(allow_none=True, metadata={"format": "date"})
    gender = fields.String()
    address = fields.String()
    city = fields.String()
    state = fields.String()
    zip = fields.String()


class PatientMatchSchema(Schema):
    patient_record = fields.Integer(
        required=True, metadata={"description": "The record the link was made for."}
    )
    person_id = fields.UUID(
        required=True, metadata={"description": "The person the record was linked to."}
    )
    kind = fields.String(
        required=True,
        metadata={
            "description": "probabilistic: linked by similarity; new: made a new person "
            "although the possible matches scored close."
        },
    )
    score = fields.Float(required=True)
    possible = fields.List(fields.Nested(CandidateScoreSchema), required=True)
    reasons = fields.List(
        fields.String(), required=True, metadata={"description": "e.g. first: nickname +4"}
    )
    submission_id = fields.UUID(required=True)
    linked_at = fields.String(required=True, metadata={"format": "date-time"})
    decision = fields.String(allow_none=True, metadata={"description": "None: waiting."})
    decision_title = fields.String(required=True)
    decided_by = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    note = fields.String()


class PatientMatchCandidateSchema(Schema):
    person_id = fields.UUID(required=True)
    score = fields.Float(required=True)
    records = fields.List(fields.Nested(PatientRecordSchema), required=True)


class PatientMatchListedSchema(PatientMatchSchema):
    name = fields.String(metadata={"description": "The record's name: last, first."})
    dob = fields.String(allow_none=True, metadata={"format": "date"})


class PatientMatchDetailSchema(PatientMatchSchema):
    record = fields.Nested(PatientRecordSchema, required=True)
    candidates = fields.List(fields.Nested(PatientMatchCandidateSchema), required=True)


class PatientMatchPageSchema(Schema):
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    items = fields.List(fields.Nested(PatientMatchListedSchema), required=True)


class PatientMatchDecisionSchema(Schema):
    same = fields.Boolean(
        required=True,
        metadata={"description": "true: the record is the candidate; false: another person."},
    )
    person_id = fields.UUID(
        metadata={"description": "Which possible match a merge joins (default: the best)."}
    )
    note = fields.String(validate=validate.Length(max=500))


class PatientMatchDecidedSchema(Schema):
    patient_record = fields.Integer(required=True)
    decision = fields.String(
        required=True,
        metadata={
            "description": "PatientLinkConfirmed, PatientSplit, PatientsMerged or "
            "PatientsKeptApart."
        },
    )
    person_id = fields.UUID(required=True)
    merged_person_id = fields.UUID()
    new_person_id = fields.UUID()
    note = fields.String()


# -- patient search and the Patient History Report -----------------------------------------------


class PatientSearchSchema(Schema):
    """Who is sought, and the purpose attested for this search (the policy manual's rule)."""

    criteria = fields.Nested(SearchRequest, required=True)
    purpose = fields.Nested(
        Purpose,
        required=True,
        metadata={
            "description": "kind: treating (prescribers), dispensing (pharmacists), "
            "investigation (law enforcement, with case_number); a delegate attests their "
            "supervisor's. attested must be true."
        },
    )


class FoundPersonSchema(Schema):
    """A person the search found, with what tells them apart from the others."""

    person_id = fields.UUID(required=True)
    names = fields.List(fields.String(), required=True, metadata={"example": ["DOE, JANE"]})
    birth_dates = fields.List(fields.String(), required=True)
    genders = fields.List(fields.String(), required=True)
    addresses = fields.List(fields.String(), required=True)
    dispensations = fields.Integer(required=True)
    first_filled = fields.String(allow_none=True, metadata={"format": "date"})
    last_filled = fields.String(allow_none=True, metadata={"format": "date"})


class PatientSearchResultSchema(Schema):
    search_id = fields.UUID(
        required=True, metadata={"description": "Opens the reports of the persons found."}
    )
    outcome = fields.String(required=True, validate=validate.OneOf(["none", "one", "several"]))
    persons = fields.List(fields.Nested(FoundPersonSchema), required=True)


class ReportPersonSchema(Schema):
    account_id = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    role_title = fields.String(required=True)


class SnoozeSchema(Schema):
    reason = fields.String(required=True)
    until = fields.String(required=True, metadata={"format": "date"})


class ReportAlertSchema(Schema):
    alert_id = fields.String(required=True, metadata={"format": "uuid"})
    person_id = fields.String(required=True, metadata={"format": "uuid"})
    rule = fields.String(
        required=True,
        metadata={
            "enum": [
                "multiple_providers",
                "daily_mme",
                "opioid_benzodiazepine",
                "opioid_sedative",
                "long_term_opioid",
            ]
        },
    )
    title = fields.String(required=True)
    level = fields.String(required=True, metadata={"enum": ["alert", "caution"]})
    start = fields.String(required=True, metadata={"format": "date"})
    end = fields.String(required=True, metadata={"format": "date"})
    ongoing = fields.Boolean(required=True, metadata={"description": "The episode reaches today."})
    evidence = fields.String(required=True, metadata={"description": "The numbers, in words."})
    numbers = fields.Dict(required=True)
    dispensation_ids = fields.List(fields.String(), required=True)
    snoozed = fields.Nested(SnoozeSchema, metadata={"description": "Set aside by you until then."})


class ReportAlertsSchema(Schema):
    engine = fields.String(
        required=True,
        metadata={"description": "'not connected': not evaluated, which is not 'no alerts'."},
    )
    items = fields.List(fields.Nested(ReportAlertSchema), required=True)
    snoozed = fields.List(fields.Nested(ReportAlertSchema), required=True)
    policy = fields.Dict(
        allow_none=True, metadata={"description": "The thresholds the alerts were evaluated under."}
    )


class ReportSummarySchema(Schema):
    dispensations = fields.Integer(required=True)
    prescribers = fields.Integer(required=True)
    pharmacies = fields.Integer(required=True)
    active_prescriptions = fields.Integer(required=True)
    current_mme = fields.Float(required=True, metadata={"description": "MME/day today."})
    peak_mme = fields.Float(required=True)
    peak_mme_date = fields.String(allow_none=True, metadata={"format": "date"})


class MmePointSchema(Schema):
    date = fields.String(required=True, metadata={"format": "date"})
    mme = fields.Float(required=True)


class ReportDispensationSchema(Schema):
    dispensation_id = fields.String(required=True)
    filled = fields.String(required=True, metadata={"format": "date"})
    written = fields.String(allow_none=True, metadata={"format": "date"})
    drug = fields.String(required=True)
    strength = fields.String(required=True)
    quantity = fields.String(required=True)
    days_supply = fields.Integer(allow_none=True)
    mme_per_day = fields.Float(allow_none=True)
    refill = fields.Integer(allow_none=True)
    prescriber = fields.String(required=True)
    pharmacy = fields.String(required=True)
    payment = fields.String(required=True)
    schedule = fields.Integer(allow_none=True)
    drug_class = fields.String(allow_none=True)
    active = fields.Boolean(
        required=True, metadata={"description": "The supply lasts through today."}
    )


class PatientReportSchema(Schema):
    """The Patient History Report: alerts first, then the summary, the MME/day chart (one
    point a day) and the dispensations, newest first."""

    title = fields.String(required=True)
    generated_at = fields.String(required=True, metadata={"format": "date-time"})
    timezone = fields.String(required=True)
    requester = fields.Nested(ReportPersonSchema, required=True)
    on_behalf_of = fields.Nested(ReportPersonSchema, allow_none=True, required=True)
    purpose = fields.String(required=True)
    search_id = fields.UUID(required=True)
    months = fields.Integer(required=True)
    from_ = fields.String(
        required=True, attribute="from", data_key="from", metadata={"format": "date"}
    )
    to = fields.String(required=True, metadata={"format": "date"})
    patients = fields.List(fields.Nested(FoundPersonSchema), required=True)
    alerts = fields.Nested(ReportAlertsSchema, required=True)
    summary = fields.Nested(ReportSummarySchema, required=True)
    mme_chart = fields.List(fields.Nested(MmePointSchema), required=True)
    dispensations = fields.List(fields.Nested(ReportDispensationSchema), required=True)


class AlertPolicySchema(PolicySchema):
    """The clinical alert rules' thresholds; every field is sent (the whole policy at once)."""


class AlertPolicyInForceSchema(Schema):
    policy = fields.Nested(AlertPolicySchema, required=True)
    methadone_methods = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "methadone_method values and what each counts."},
    )


class AlertAcknowledgementSchema(Acknowledgement):
    """Why the alert is expected (for example cancer care or hospice), and for how long to
    set it aside for yourself: 1, 3 or 6 months."""


class AlertAcknowledgedSchema(AlertAcknowledgementSchema):
    alert_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    account_id = fields.String(required=True)
    until = fields.String(required=True, metadata={"format": "date"})


class CardVerificationSchema(Schema):
    """A card number, or the holder's first name, last name and date of birth."""

    card_number = fields.String(load_default="", validate=validate.Length(max=20))
    first_name = fields.String(load_default="", validate=validate.Length(max=60))
    last_name = fields.String(load_default="", validate=validate.Length(max=60))
    birth_date = fields.Date(load_default=None, allow_none=True)


class VerifiedCardSchema(Schema):
    """What an officer sees of a card, and nothing else."""

    name = fields.String(required=True)
    birth_date = fields.String(required=True, metadata={"format": "date"})
    expiry_date = fields.String(required=True, metadata={"format": "date"})
    caregiver = fields.String(required=True, metadata={"description": "Empty when none."})
    status = fields.String(required=True, validate=validate.OneOf(["VALID", "EXPIRED", "REVOKED"]))


class CardVerificationResultSchema(Schema):
    verification_id = fields.UUID(required=True)
    checked_on = fields.String(
        required=True, metadata={"format": "date", "description": "Today, the program's day."}
    )
    result = fields.String(
        required=True,
        validate=validate.OneOf(["VALID", "EXPIRED", "REVOKED", "NOT FOUND"]),
        metadata={"description": "The first card's status, or NOT FOUND."},
    )
    cards = fields.List(
        fields.Nested(VerifiedCardSchema),
        required=True,
        metadata={"description": "The cards found: a valid one first, then the newest."},
    )


class RegistryImportCountsSchema(Schema):
    lines = fields.Integer(required=True)
    registered = fields.Integer(required=True)
    renewed = fields.Integer(required=True)
    revoked = fields.Integer(required=True)
    corrected = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    refused = fields.Integer(required=True)


class RegistryImportErrorSchema(Schema):
    line = fields.Integer(required=True)
    field = fields.String(required=True, metadata={"description": "_line: the whole line."})
    value = fields.String(required=True)
    message = fields.String(required=True)


class RegistryImportSchema(Schema):
    filename = fields.String(required=True)
    counts = fields.Nested(RegistryImportCountsSchema, required=True)
    errors = fields.List(fields.Nested(RegistryImportErrorSchema), required=True)


class RegistryCardSchema(Schema):
    """A registry card as administrators see it: every column of the registry file, and its
    status today in the program's time zone."""

    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    birth_date = fields.String(required=True, metadata={"format": "date"})
    address = fields.String(required=True)
    city = fields.String(required=True)
    state = fields.String(required=True)
    zip = fields.String(required=True)
    practitioner = fields.String(
        required=True, metadata={"description": "The certifying practitioner."}
    )
    practitioner_npi = fields.String(required=True, metadata={"description": "Empty when none."})
    caregiver = fields.String(required=True, metadata={"description": "Empty when none."})
    issue_date = fields.String(required=True, metadata={"format": "date"})
    expiry_date = fields.String(
        required=True, metadata={"format": "date", "description": "Valid through this day."}
    )
    status = fields.String(required=True, validate=validate.OneOf(["VALID", "EXPIRED", "REVOKED"]))
    revoked_reason = fields.String(required=True, metadata={"description": "Empty unless revoked."})


class MarijuanaDispensationSchema(Schema):
    """A dispensary's dispensation reported under a card number, as reported, with the
    card's standing on the day it was filled."""

    dispensation_id = fields.UUID(required=True)
    card_number = fields.String(required=True)
    filled_on = fields.String(required=True, metadata={"format": "date"})
    dispensary = fields.String(
        required=True, metadata={"description": "Its name, else its NPI, NCPDP or DEA number."}
    )
    product = fields.String(required=True, metadata={"description": "The product code (DSP08)."})
    quantity = fields.String(required=True, metadata={"description": "Decimal text."})
    unit = fields.String(required=True, metadata={"description": "g, mL or each."})
    days_supply = fields.Integer(allow_none=True)
    certifier = fields.String(
        required=True, metadata={"description": "The certifying practitioner as reported."}
    )
    patient = fields.String(required=True, metadata={"description": "The name as reported."})
    patient_birth_date = fields.String(required=True, metadata={"format": "date"})
    card_standing = fields.String(
        required=True,
        validate=validate.OneOf(["valid", "expired", "not yet issued", "revoked", "no such card"]),
        metadata={"description": "The card's standing on the day it was filled."},
    )
    holder_matches = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "Whether the patient reported is the card's holder (the same date "
            "of birth, a name patient search takes for theirs); null when there is no card."
        },
    )
    picked_up_by = fields.String(
        required=True,
        metadata={"description": "Who took it away, when the AIR segment names somebody."},
    )
    picked_up_as = fields.String(
        required=True,
        metadata={"description": "Their relationship (AIR06): patient, caregiver, spouse..."},
    )
    pickup_matches = fields.Boolean(
        allow_none=True,
        metadata={
            "description": "When somebody other than the patient took it: whether that is the "
            "card's registered caregiver (false when the card has none); null otherwise."
        },
    )
    to_check = fields.Boolean(
        required=True,
        metadata={
            "description": "The card was not valid that day, the patient is not the holder, "
            "or somebody other than the caregiver took it away."
        },
    )


class CardRecordSchema(Schema):
    card_number = fields.String(required=True)
    card = fields.Nested(
        RegistryCardSchema,
        required=True,
        allow_none=True,
        metadata={"description": "Null when the registry has no card with this number."},
    )
    dispensations = fields.List(
        fields.Nested(MarijuanaDispensationSchema),
        required=True,
        metadata={"description": "Reported under this card number, newest first."},
    )


class DispensationsToCheckSchema(Schema):
    dispensations = fields.List(
        fields.Nested(MarijuanaDispensationSchema),
        required=True,
        metadata={
            "description": "Newest first: card_standing is not `valid`, or holder_matches is false."
        },
    )
    total = fields.Integer(required=True, metadata={"description": "On every page."})
    page = fields.Integer(required=True)
    pages = fields.Integer(required=True)


class TicketAttachmentUploadSchema(Schema):
    filename = fields.String(required=True, validate=validate.Length(min=1, max=255))
    content = fields.String(
        required=True, metadata={"description": "The file, base64-encoded (PDF, JPEG or PNG)."}
    )


class TicketRequestSchema(NewTicket):
    """A problem report; anyone may send one, signed in or not. A signed-out user who cannot
    sign in names the problem in ``access_problem`` and gives their account's email address,
    and the ticket is linked to that account."""

    attachments = fields.List(
        fields.Nested(TicketAttachmentUploadSchema),
        load_default=list,
        validate=validate.Length(max=5),
        metadata={"description": "Up to 5 files, each a PDF, JPEG or PNG of up to 10 MB."},
    )


class TicketCreatedSchema(Schema):
    ticket_id = fields.UUID(required=True)
    reference = fields.String(required=True, metadata={"description": "T- and 8 characters."})
    signed_in = fields.Boolean(required=True)


class TicketSummarySchema(Schema):
    ticket_id = fields.UUID(required=True)
    reference = fields.String(required=True)
    subject = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["open", "escalated", "resolved",
                                                             "closed"]})  # fmt: skip
    status_title = fields.String(required=True)
    category = fields.String(allow_none=True, metadata={"enum": ["critical", "high", "medium",
                                                                 "low", None]})  # fmt: skip
    category_title = fields.String(required=True)
    contact_name = fields.String(required=True)
    account_id = fields.String(allow_none=True)
    access_problem = fields.String(allow_none=True)
    assignee_id = fields.String(allow_none=True)
    assignee_name = fields.String(required=True)
    escalated_to = fields.String(allow_none=True)
    opened_at = fields.String(required=True, metadata={"format": "date-time"})
    age_hours = fields.Float(required=True)
    first_response_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    due_at = fields.String(
        allow_none=True,
        metadata={"format": "date-time", "description": "The first response is due by then."},
    )
    past_target = fields.Boolean(required=True)


class TicketCommentSchema(Schema):
    comment_id = fields.UUID(required=True)
    body = fields.String(required=True)
    internal = fields.Boolean(required=True, metadata={"description": "Staff only; never shown"
                                                       " to the user."})  # fmt: skip
    from_staff = fields.Boolean(required=True)
    author_name = fields.String(required=True)
    at = fields.String(required=True, metadata={"format": "date-time"})
    account_action = fields.String(allow_none=True)


class TicketHistoryLineSchema(Schema):
    at = fields.String(required=True, metadata={"format": "date-time"})
    type = fields.String(required=True)
    text = fields.String(required=True)


class TicketAttachmentSchema(Schema):
    document_id = fields.UUID(required=True)
    filename = fields.String(required=True)
    content_type = fields.String(required=True)
    size = fields.Integer(required=True)


class TicketSchema(TicketSummarySchema):
    """One ticket as its reader may see it: the queue's age (`age_hours`) is not part of it."""

    class Meta:
        exclude = ("age_hours",)

    description = fields.String(required=True)
    contact_email = fields.String(required=True)
    contact_confirmed = fields.Boolean(
        required=True,
        metadata={"description": "False until a signed-out opener used the emailed link: "
                  "nothing is emailed to the address before."},
    )  # fmt: skip
    contact_phone = fields.String(required=True)
    access_problem_title = fields.String(allow_none=True)
    resolved_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    resolution = fields.String(required=True)
    closed_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    reopen_until = fields.String(allow_none=True, metadata={"format": "date-time"})
    can_reopen = fields.Boolean(required=True)
    attachments = fields.List(fields.Nested(TicketAttachmentSchema), required=True)
    comments = fields.List(fields.Nested(TicketCommentSchema), required=True)
    history = fields.List(fields.Nested(TicketHistoryLineSchema), required=True)


class TicketActionSchema(Schema):
    """What an action on a ticket takes; each action reads the fields it needs:
    comments `body` and `internal`; categorise `category`; assign `assignee_id` (null to
    unassign); escalate `to` (vendor, state_it) and `reason`; resolve `resolution`; reopen,
    close, unlock, reset-mfa and temporary-password `reason`."""

    body = fields.String(load_default="")
    internal = fields.Boolean(load_default=False)
    category = fields.String(load_default="")
    assignee_id = fields.UUID(load_default=None, allow_none=True)
    to = fields.String(load_default="")
    reason = fields.String(load_default="", validate=validate.Length(max=1000))
    resolution = fields.String(load_default="", validate=validate.Length(max=5000))


class TicketActedSchema(Schema):
    ticket = fields.Nested(TicketSchema, required=True)
    outcome = fields.String(
        allow_none=True,
        metadata={"description": "Account actions: done, queued (a letter for the mail room)."},
    )
    letter_id = fields.UUID(
        allow_none=True,
        metadata={"description": "temporary-password: the letter queued for the post (never "
                  "the letter itself: the mail room prints it)."},
    )  # fmt: skip


class HelpdeskPolicySchema(HelpdeskPolicyFields):
    """Response targets in hours per category (Critical counts every hour; the others count
    support hours, Monday to Friday 8:00-17:00 in the program's zone, less the holidays),
    the days a user may reopen a resolved ticket, and the holidays (dates)."""


class HelpdeskReportRowSchema(Schema):
    category = fields.String(required=True)
    title = fields.String(required=True)
    counts = fields.String(required=True, metadata={"description": "every hour, or support hours"})
    opened = fields.Integer(required=True)
    responded = fields.Integer(required=True)
    responded_late = fields.Integer(required=True)
    median_first_response_hours = fields.Float(allow_none=True)
    resolved = fields.Integer(required=True)
    median_resolution_hours = fields.Float(allow_none=True)
    target_hours = fields.Integer(allow_none=True)


class HelpdeskReportSchema(Schema):
    month = fields.String(required=True)
    total = fields.Integer(required=True)
    rows = fields.List(fields.Nested(HelpdeskReportRowSchema), required=True)


DOCUMENTED = (
    "PermissionGrant",
    "CredentialRequest",
    "CredentialOutcome",
    "ResetRequest",
    "ResetDecision",
    "QueuedLetter",
    "LetterPosted",
    "CardVerification",
    "VerifiedCard",
    "CardVerificationResult",
    "RegistryImport",
    "RegistryCard",
    "MarijuanaDispensation",
    "CardRecord",
    "DispensationsToCheck",
    "TicketRequest",
    "TicketCreated",
    "TicketConfirmed",
    "TicketSummary",
    "Ticket",
    "TicketAction",
    "TicketActed",
    "HelpdeskPolicy",
    "HelpdeskReport",
    "AlertPolicy",
    "AlertPolicyInForce",
    "AlertAcknowledgement",
    "AlertAcknowledged",
    "PatientSearch",
    "PatientSearchResult",
    "PatientReport",
    "PatientMatch",
    "PatientMatchDetail",
    "PatientMatchPage",
    "PatientMatchDecision",
    "PatientMatchDecided",
    "Problem",
    "ValidationProblem",
    "RefusalProblem",
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
    "SignUp",
    "SignUpAccepted",
    "SignUpCompletion",
    "RoleChoice",
    "ApplicationDocument",
    "AcceptedAgreement",
    "Supervisor",
    "ApplicationStep",
    "ProfileChangeRequested",
    "Application",
    "ApplicationEvent",
    "ApplicationDetails",
    "EmailVerified",
    "RegistrationForm",
    "AgreementSection",
    "Agreement",
    "AgreementAcceptance",
    "ProfileChange",
    "ApplicationSummary",
    "ApplicationSummaries",
    "ReviewQueue",
    "Decision",
    "RenewalPolicy",
    "SubmissionCounts",
    "Submission",
    "SubmissionError",
    "SubmissionErrors",
    "UnfinishedProblem",
)
