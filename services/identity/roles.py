"""Roles and the permissions they grant: the one table the gateway and every service use.

Deny by default: a permission not granted here is refused everywhere. Services check the
caller's role (from nameko context data) against this table themselves, as well as the
gateway, so a request that slips past one layer is still refused by the next.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum


class Role(StrEnum):
    PRESCRIBER = "prescriber"
    PHARMACIST = "pharmacist"
    LAW_ENFORCEMENT = "law_enforcement"
    LAW_ENFORCEMENT_MM = "law_enforcement_mm"
    DELEGATE = "delegate"
    ADMINISTRATOR = "administrator"
    HELPDESK = "helpdesk"
    AUDITOR = "auditor"
    APPLICANT = "applicant"  # signed up, not yet approved: reaches no patient data
    DATA_SUBMITTER = "data_submitter"  # a pharmacy's staff who upload its ASAP files

    @property
    def title(self) -> str:
        return ROLE_TITLES[self]


ROLE_TITLES = {
    Role.PRESCRIBER: "Prescriber",
    Role.PHARMACIST: "Pharmacist",
    Role.LAW_ENFORCEMENT: "Law enforcement",
    Role.LAW_ENFORCEMENT_MM: "Law enforcement (medical marijuana registry only)",
    Role.DELEGATE: "Delegate",
    Role.ADMINISTRATOR: "Administrator",
    Role.HELPDESK: "Help-desk staff",
    Role.AUDITOR: "Auditor",
    Role.APPLICANT: "Applicant",
    Role.DATA_SUBMITTER: "Data submitter (pharmacy)",
}


# The roles administrators give: an applicant is only ever made by signing up.
ASSIGNABLE_ROLE_TITLES = {role: title for role, title in ROLE_TITLES.items() if role != "applicant"}


class Permission(StrEnum):
    ACCOUNT_SELF = "account.self"  # sign in, change own password, enrol MFA
    PATIENT_SEARCH = "patient.search"
    REPORT_VIEW = "report.view"
    ALERT_ACKNOWLEDGE = "alert.acknowledge"
    MM_REGISTRY_VERIFY = "mm_registry.verify"
    MM_REGISTRY_LOAD = "mm_registry.load"  # load the registry file (administrators)
    MM_REGISTRY_RECORDS = "mm_registry.records"  # a card's record and its dispensations
    USER_VIEW = "user.view"
    USER_CREATE = "user.create"
    USER_SUSPEND = "user.suspend"  # suspend and reinstate
    USER_REVOKE = "user.revoke"  # revoke and remove
    USER_UNLOCK = "user.unlock"
    USER_ROLE_CHANGE = "user.role_change"
    USER_TEMPORARY_PASSWORD = "user.temporary_password"
    REGISTRATION_REVIEW = "registration.review"
    POLICY_MANAGE = "policy.manage"
    STATISTICS_VIEW = "statistics.view"
    TICKET_MANAGE = "ticket.manage"
    AUDIT_READ = "audit.read"
    REGISTRATION_APPLY = "registration.apply"  # apply, renew, request profile changes
    DELEGATE_SUPERVISE = "delegate.supervise"  # approve the delegates who act for you
    SUBMISSION_UPLOAD = "submission.upload"  # send dispensation files, read their reports
    PATIENT_INDEX_REVIEW = "patient_index.review"  # confirm, merge or split uncertain links
    USER_RESET_APPROVE = "user.reset_approve"  # approve another's reset of an administrator
    LETTERS_POST = "letters.post"  # the mail room: print and post credential letters


_CLINICAL = {
    Permission.PATIENT_SEARCH,
    Permission.REPORT_VIEW,
    Permission.ALERT_ACKNOWLEDGE,
}

# What a registered user loses on their renewal date until an administrator approves the
# renewal: everything that reaches patient or registry data.
PATIENT_DATA = frozenset({*_CLINICAL, Permission.MM_REGISTRY_VERIFY})

_REGISTRANT = {Permission.ACCOUNT_SELF, Permission.REGISTRATION_APPLY}

GRANTS: dict[Role, frozenset[Permission]] = {
    Role.PRESCRIBER: frozenset({*_REGISTRANT, *_CLINICAL, Permission.DELEGATE_SUPERVISE}),
    Role.PHARMACIST: frozenset({*_REGISTRANT, *_CLINICAL, Permission.DELEGATE_SUPERVISE}),
    Role.DELEGATE: frozenset({*_REGISTRANT, *_CLINICAL}),
    Role.LAW_ENFORCEMENT: frozenset(
        {
            *_REGISTRANT,
            Permission.PATIENT_SEARCH,
            Permission.REPORT_VIEW,
            Permission.MM_REGISTRY_VERIFY,
        }
    ),
    Role.LAW_ENFORCEMENT_MM: frozenset({*_REGISTRANT, Permission.MM_REGISTRY_VERIFY}),
    Role.ADMINISTRATOR: frozenset(
        {
            Permission.ACCOUNT_SELF,
            Permission.USER_VIEW,
            Permission.USER_CREATE,
            Permission.USER_SUSPEND,
            Permission.USER_REVOKE,
            Permission.USER_UNLOCK,
            Permission.USER_ROLE_CHANGE,
            Permission.USER_TEMPORARY_PASSWORD,
            Permission.REGISTRATION_REVIEW,
            Permission.POLICY_MANAGE,
            Permission.STATISTICS_VIEW,
            Permission.TICKET_MANAGE,
            Permission.AUDIT_READ,
            Permission.PATIENT_INDEX_REVIEW,
            Permission.MM_REGISTRY_LOAD,
            Permission.MM_REGISTRY_RECORDS,
            Permission.USER_RESET_APPROVE,
            Permission.LETTERS_POST,
        }
    ),
    Role.HELPDESK: frozenset(
        {
            Permission.ACCOUNT_SELF,
            Permission.USER_VIEW,
            Permission.USER_UNLOCK,
            Permission.USER_TEMPORARY_PASSWORD,
            Permission.TICKET_MANAGE,
        }
    ),
    Role.AUDITOR: frozenset({Permission.ACCOUNT_SELF, Permission.AUDIT_READ}),
    Role.APPLICANT: frozenset(_REGISTRANT),
    Role.DATA_SUBMITTER: frozenset({Permission.ACCOUNT_SELF, Permission.SUBMISSION_UPLOAD}),
}


# What an administrator may grant one account beyond its role (``PermissionGranted`` on the
# account's stream): the registry, to a prescriber or pharmacist who needs it. Nothing else.
GRANTABLE: dict[Role, frozenset[Permission]] = {
    Role.PRESCRIBER: frozenset({Permission.MM_REGISTRY_VERIFY}),
    Role.PHARMACIST: frozenset({Permission.MM_REGISTRY_VERIFY}),
}


def grantable_to(role: str | None) -> frozenset[Permission]:
    """What an administrator may grant an account of ``role`` beyond the role's own."""
    try:
        return GRANTABLE.get(Role(role), frozenset())
    except ValueError:
        return frozenset()


def permissions_of(role: str | None) -> frozenset[Permission]:
    """What ``role`` may do; nothing for an unknown or missing role."""
    try:
        return GRANTS[Role(role)]
    except ValueError:
        return frozenset()


def allows(role: str | None, permission: Permission) -> bool:
    return permission in permissions_of(role)


class NotAuthorized(PermissionError):
    """The caller's role does not grant what this needs (services raise it by this name)."""


def require(role: str | None, permission: Permission) -> None:
    """Refuse, in every service alike, a caller whose ``role`` lacks ``permission``."""
    if not allows(role, permission):
        raise NotAuthorized(f"Your role may not do this ({permission}).")


def require_granted(
    role: str | None, granted: Collection[str] | None, permission: Permission
) -> None:
    """Refuse unless the role grants ``permission`` (or it is one an administrator may grant
    to this role, and identity says this account was granted it) and identity, which the
    gateway asked for this request, still grants it now (a renewal that came due withdraws
    it)."""
    if permission in grantable_to(role) and granted is not None and permission in granted:
        return
    require(role, permission)
    if granted is not None and permission not in granted:
        raise NotAuthorized("Your access to patient data is paused until your renewal is approved.")
