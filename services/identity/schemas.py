"""marshmallow schemas of the identity service's events.

No event carries a password, a one-time code or a token in clear: passwords and answers
appear only as argon2 hashes, links and recovery codes as SHA-256 hashes, and the TOTP seed
sealed with the deployment's key. The audit service keeps a copy of every event for good.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from pmp.registry import EventRegistry
from services.identity.roles import Permission, Role

_ROLE = validate.OneOf([str(r) for r in Role])
_REASON = fields.String(required=True, validate=validate.Length(min=3, max=500))


class EmailClaimed(Schema):
    account_id = fields.UUID(required=True)
    email = fields.Email(required=True)


class AccountCreated(Schema):
    account_id = fields.UUID(required=True)
    email = fields.Email(required=True)
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=_ROLE)
    address_lines = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        required=True,
        validate=validate.Length(min=1, max=6),
    )


class AccountSignedUp(Schema):
    """An applicant made their own account (email and password); the rest comes with
    ``AccessGranted`` once an administrator approves their registration."""

    account_id = fields.UUID(required=True)
    email = fields.Email(required=True)
    role = fields.String(required=True, validate=validate.Equal(str(Role.APPLICANT)))
    password_hash = fields.String(required=True)


class AccessGranted(Schema):
    """The registration service approved the account's registration (or its renewal)."""

    role = fields.String(required=True, validate=_ROLE)
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    address_lines = fields.List(fields.String(validate=validate.Length(min=1, max=200)))
    access_until = fields.Date(required=True, allow_none=True)


class AccessUntilChanged(Schema):
    access_until = fields.Date(required=True, allow_none=True)


class ProfileUpdated(Schema):
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class TemporaryPasswordIssued(Schema):
    """The password only as its hash; the letter that carries it is ``letter_id`` (sealed in
    the mail room's queue until printed, when ``delivery`` is "post")."""

    password_hash = fields.String(required=True)
    expires_at = fields.DateTime(required=True)
    reason = fields.String(required=True)
    letter_id = fields.UUID(allow_none=True)
    delivery = fields.String(validate=validate.OneOf(["post", "in_hand"]))


class CredentialLetter(Schema):
    """A credential letter queued for the mail room, printed, or posted: its id only."""

    letter_id = fields.UUID(required=True)


_ACTION = validate.OneOf(["temporary_password", "unlock", "reset_mfa"])


class CredentialResetRequested(Schema):
    """A reset of an administrator, waiting for a second administrator until ``expires_at``."""

    request_id = fields.UUID(required=True)
    action = fields.String(required=True, validate=_ACTION)
    reason = _REASON
    requested_by = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


class CredentialResetDecided(Schema):
    """A second administrator approved (the reset follows in the same append) or declined."""

    request_id = fields.UUID(required=True)
    action = fields.String(required=True, validate=_ACTION)
    requested_by = fields.String(required=True)
    reason = fields.String()


class CredentialActionRefused(Schema):
    """A credential action the reset policy refused, kept so the trail shows who tried."""

    action = fields.String(required=True, validate=_ACTION)
    refusal = fields.String(required=True, validate=validate.Length(max=500))
    ticket_id = fields.UUID(allow_none=True)


class PasswordChanged(Schema):
    password_hash = fields.String(required=True)
    via = fields.String(required=True, validate=validate.OneOf(["self", "reset"]))


class PasswordRehashed(Schema):
    password_hash = fields.String(required=True)


class LoginSucceeded(Schema):
    session_id = fields.UUID(required=True)
    client = fields.String(required=True)


class LoginFailed(Schema):
    reason = fields.String(required=True)
    client = fields.String(required=True)


class AccountLocked(Schema):
    locked_until = fields.DateTime(required=True)
    failed_attempts = fields.Integer(required=True)


class WithReason(Schema):
    reason = _REASON


class SessionStarted(Schema):
    session_id = fields.UUID(required=True)
    expires_at = fields.DateTime(required=True)


class SessionEnded(Schema):
    session_id = fields.UUID(required=True)
    reason = fields.String(required=True)


class MfaChallengePassed(Schema):
    session_id = fields.UUID(required=True)
    method = fields.String(required=True, validate=validate.OneOf(["totp", "recovery_code"]))
    recovery_code_hash = fields.String()
    step = fields.Integer()  # the TOTP time step used, so the same code is not accepted twice


class MfaEnrolled(Schema):
    sealed_secret = fields.String(required=True)
    recovery_code_hashes = fields.List(fields.String(), required=True)


class SecurityQuestionsSet(Schema):
    questions = fields.List(fields.String(), required=True, validate=validate.Length(equal=3))
    answer_hashes = fields.List(fields.String(), required=True, validate=validate.Length(equal=3))


class PasswordResetRequested(Schema):
    link_hash = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


class RoleChanged(Schema):
    from_role = fields.String(required=True, validate=_ROLE)
    to_role = fields.String(required=True, validate=_ROLE)
    reason = _REASON


class PermissionChanged(Schema):
    """A permission granted to (or withdrawn from) one account beyond its role."""

    permission = fields.String(required=True, validate=validate.OneOf([str(p) for p in Permission]))
    reason = _REASON


class UnknownAccountSignIn(Schema):
    """A failed sign-in for an address with no account. The address is not kept: people
    type their password into the email field often enough."""

    client = fields.String(required=True)


def identity_events() -> EventRegistry:
    registry = EventRegistry()
    for name, schema in [
        ("EmailClaimed", EmailClaimed),
        ("AccountCreated", AccountCreated),
        ("AccountSignedUp", AccountSignedUp),
        ("AccessGranted", AccessGranted),
        ("AccessUntilChanged", AccessUntilChanged),
        ("ProfileUpdated", ProfileUpdated),
        ("TemporaryPasswordIssued", TemporaryPasswordIssued),
        ("CredentialLetterQueued", CredentialLetter),
        ("CredentialLetterPrinted", CredentialLetter),
        ("CredentialLetterPosted", CredentialLetter),
        ("CredentialResetRequested", CredentialResetRequested),
        ("CredentialResetApproved", CredentialResetDecided),
        ("CredentialResetDeclined", CredentialResetDecided),
        ("CredentialActionRefused", CredentialActionRefused),
        ("PasswordChanged", PasswordChanged),
        ("PasswordRehashed", PasswordRehashed),
        ("LoginSucceeded", LoginSucceeded),
        ("LoginFailed", LoginFailed),
        ("UnknownAccountSignIn", UnknownAccountSignIn),
        ("AccountLocked", AccountLocked),
        ("AccountUnlocked", WithReason),
        ("SessionStarted", SessionStarted),
        ("SessionEnded", SessionEnded),
        ("MfaChallengePassed", MfaChallengePassed),
        ("MfaEnrolled", MfaEnrolled),
        ("MfaReset", WithReason),
        ("SecurityQuestionsSet", SecurityQuestionsSet),
        ("PasswordResetRequested", PasswordResetRequested),
        ("AccountSuspended", WithReason),
        ("AccountReinstated", WithReason),
        ("AccountRevoked", WithReason),
        ("AccountRemoved", WithReason),
        ("RoleChanged", RoleChanged),
        ("PermissionGranted", PermissionChanged),
        ("PermissionWithdrawn", PermissionChanged),
    ]:
        registry.register(name, schema)
    return registry
