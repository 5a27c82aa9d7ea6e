"""marshmallow schemas of the registration service's events.

The form itself is validated per role by ``forms.py`` before it is saved; here it is a map
of field names to text. Security answers never reach this service (identity keeps them,
hashed), and verification links appear only as ids: the link's secret is an HMAC of the id
under the deployment key, made again when the email is sent.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from pmp.registry import EventRegistry
from services.identity.roles import Role

_ROLE = validate.OneOf([str(r) for r in Role])
_TEXT = fields.String(required=True, validate=validate.Length(min=3, max=2000))
_KEY = fields.String(required=True, validate=validate.Length(min=1, max=100))


class ApplicationStarted(Schema):
    email = fields.Email(required=True)
    role = fields.String(required=True, validate=_ROLE)


class RoleChosen(Schema):
    role = fields.String(required=True, validate=_ROLE)


class VerificationEmailRequested(Schema):
    verification_id = fields.UUID(required=True)
    email = fields.Email(required=True)
    expires_at = fields.DateTime(required=True)


class EmailVerified(Schema):
    verification_id = fields.UUID(required=True)


class Supervisor(Schema):
    account_id = fields.UUID(required=True)
    email = fields.Email(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, validate=_ROLE)


class FormSaved(Schema):
    form = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    supervisor = fields.Nested(Supervisor)


class DocumentAttached(Schema):
    document_id = fields.UUID(required=True)
    sha256 = fields.String(required=True, validate=validate.Length(equal=64))
    filename = fields.String(required=True, validate=validate.Length(min=1, max=200))
    content_type = fields.String(
        required=True, validate=validate.OneOf(["application/pdf", "image/jpeg", "image/png"])
    )
    size = fields.Integer(required=True, validate=validate.Range(min=1))
    description = fields.String(required=True, validate=validate.Length(max=200))


class DocumentRemoved(Schema):
    document_id = fields.UUID(required=True)


class AgreementAccepted(Schema):
    version = fields.String(required=True)
    client = fields.String(required=True)


class ApplicationSubmitted(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["application", "renewal"]))
    supervisor_account_id = fields.UUID()


class SupervisorApproved(Schema):
    supervisor_account_id = fields.UUID(required=True)


class SupervisorDeclined(Schema):
    supervisor_account_id = fields.UUID(required=True)
    reason = _TEXT


class InformationRequested(Schema):
    message = _TEXT


class ApplicationApproved(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["application", "renewal"]))
    role = fields.String(required=True, validate=_ROLE)
    years = fields.Integer(required=True, validate=validate.Range(min=1, max=10))
    renewal_due = fields.Date(required=True)
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    address_lines = fields.List(fields.String(), required=True)


class WithReason(Schema):
    reason = _TEXT


class IncompleteReminderIssued(Schema):
    key = _KEY
    idle_days = fields.Integer(required=True)
    closes_on = fields.Date(required=True)


class ApplicationClosedIncomplete(Schema):
    idle_days = fields.Integer(required=True)


class RenewalDateSet(Schema):
    renewal_due = fields.Date(required=True)
    years = fields.Integer(required=True, validate=validate.Range(min=1, max=10))


class RenewalReminderIssued(Schema):
    key = _KEY
    days_before = fields.Integer(required=True)
    renewal_due = fields.Date(required=True)


class RegistrationLapsed(Schema):
    key = _KEY
    renewal_due = fields.Date(required=True)


class RenewalStarted(Schema):
    renewal_due = fields.Date(allow_none=True)


class ProfileChange(Schema):
    changes = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class RenewalPolicyChanged(Schema):
    role = fields.String(required=True, validate=_ROLE)
    years = fields.Integer(required=True, validate=validate.Range(min=1, max=10))


def registration_events() -> EventRegistry:
    registry = EventRegistry()
    for name, schema in [
        ("ApplicationStarted", ApplicationStarted),
        ("RoleChosen", RoleChosen),
        ("VerificationEmailRequested", VerificationEmailRequested),
        ("EmailVerified", EmailVerified),
        ("FormSaved", FormSaved),
        ("DocumentAttached", DocumentAttached),
        ("DocumentRemoved", DocumentRemoved),
        ("AgreementAccepted", AgreementAccepted),
        ("ApplicationSubmitted", ApplicationSubmitted),
        ("SupervisorApproved", SupervisorApproved),
        ("SupervisorDeclined", SupervisorDeclined),
        ("InformationRequested", InformationRequested),
        ("ApplicationApproved", ApplicationApproved),
        ("ApplicationRejected", WithReason),
        ("IncompleteReminderIssued", IncompleteReminderIssued),
        ("ApplicationClosedIncomplete", ApplicationClosedIncomplete),
        ("RenewalDateSet", RenewalDateSet),
        ("RenewalReminderIssued", RenewalReminderIssued),
        ("RegistrationLapsed", RegistrationLapsed),
        ("RenewalStarted", RenewalStarted),
        ("ProfileChangeRequested", ProfileChange),
        ("ProfileChangeApproved", ProfileChange),
        ("ProfileChangeRejected", WithReason),
        ("RenewalPolicyChanged", RenewalPolicyChanged),
    ]:
        registry.register(name, schema)
    return registry
