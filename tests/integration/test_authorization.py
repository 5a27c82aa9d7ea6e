"""Who may call what: every gateway endpoint, called as every role and as an anonymous visitor.

``ACCESS`` is the one table of authorization decisions: each entrypoint of the gateway (method
and route, as nameko registers them) -> example requests -> the roles allowed to make them.
A route without a decision here fails ``test_every_gateway_endpoint_has_an_authorization_
decision``, so nobody can add one without deciding who may call it.

API routes are called with the role's bearer token, pages with its session cookie (the same
token: the gateway resolves both alike). Allowed: not 401/403 and not sent to sign in.
Refused: 403 (API and pages); anonymous: 401 (API) or 303 to /login (pages). Destructive
actions aim at an account that does not exist, so the shared users stay as they are.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from gateway.service import GatewayService
from services.identity.roles import Role
from tests.helpers.accounts import NEW_PASSWORD, User, every_role
from tests.helpers.stack import Stack

SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

ANONYMOUS = "anonymous"
ROLES = [str(role) for role in Role]
WHO = [*ROLES, ANONYMOUS]

# Who is allowed, in words the table reads in.
EVERY_ROLE = frozenset(ROLES)  # any signed-in user (every role has account.self)
ANYONE = EVERY_ROLE | {ANONYMOUS}  # public
NOBODY = frozenset()
ADMINISTRATORS = frozenset({Role.ADMINISTRATOR})
ACCOUNT_STAFF = frozenset({Role.ADMINISTRATOR, Role.HELPDESK})  # user.view, unlock, letters
# registration.apply: applicants, and registered users (renewal, profile changes)
REGISTRANTS = frozenset(
    {
        Role.APPLICANT,
        Role.PRESCRIBER,
        Role.PHARMACIST,
        Role.DELEGATE,
        Role.LAW_ENFORCEMENT,
        Role.LAW_ENFORCEMENT_MM,
    }
)
SUPERVISORS = frozenset({Role.PRESCRIBER, Role.PHARMACIST})  # delegate.supervise
SEARCHERS = frozenset({Role.PRESCRIBER, Role.PHARMACIST, Role.DELEGATE, Role.LAW_ENFORCEMENT})
# The shared delegate has no supervisor who approved them: the query service refuses them.
UNSUPERVISED_REFUSED = SEARCHERS - {Role.DELEGATE}
ACKNOWLEDGERS = frozenset({Role.PRESCRIBER, Role.PHARMACIST, Role.DELEGATE})  # alert.acknowledge
SUBMITTERS = frozenset({Role.DATA_SUBMITTER})  # submission.upload
# a submission's outcome and report: its submitter, and the staff who help them
SUBMISSION_READERS = SUBMITTERS | ACCOUNT_STAFF
AUDIT_READERS = frozenset({Role.AUDITOR, Role.ADMINISTRATOR})  # audit.read
VERIFIERS = frozenset({Role.LAW_ENFORCEMENT, Role.LAW_ENFORCEMENT_MM})  # mm_registry.verify
NO_CARD = {"card_number": "MM-NO-SUCH-0"}

MISSING = "00000000-0000-4000-8000-000000000000"  # no such account
NO_RECORD = 987654321  # no such patient record under review
REASON = {"reason": "authorization test"}
# a search nobody matches, valid as a prescriber attests it
NOBODY_BORN = {"first_name": "Nobody", "last_name": "Authorization", "birth_date": "1900-01-01"}
SEARCH = {"criteria": NOBODY_BORN, "purpose": {"kind": "treating", "attested": True}}
SEARCH_FORM = {**NOBODY_BORN, "attested": "1"}  # the page attests the role's own purpose
SNOOZE = {"reason": "authorization test", "snooze_months": 1}  # of an alert that does not exist
SNOOZE_FORM = {"reason": "authorization test", "snooze_months": "1"}
AT = "2026-11-01T12:00:00%2B00:00"  # a moment, its offset escaped in a query string
AS_OF_REPORT = f"/api/audit/as-of/report?person_id={MISSING}&at={AT}&months=3"
TICKET_STAFF = frozenset({Role.ADMINISTRATOR, Role.HELPDESK})  # ticket.manage
TICKET = f"/api/tickets/{MISSING}"  # no such ticket
TICKET_PAGE = f"/help/tickets/{MISSING}"
STAFF_TICKET_ACTIONS = {
    "categorise": {"category": "high"},
    "assign": {},
    "escalate": {"to": "vendor", "reason": "authorization test"},
    "resolve": {"resolution": "authorization test"},
    "close": REASON,
    "unlock": REASON,
    "reset-mfa": REASON,
    "temporary-password": REASON,
}


@dataclass(frozen=True)
class Example:
    """One request to make as each role, and who must be allowed through."""

    path: str
    allowed: frozenset[str]
    method: str = ""  # the entrypoint's method unless given
    json: Any = None
    form: dict[str, str] | None = None
    expect: int | None = None  # the exact status for allowed callers, when it is known
    fresh_session: bool = False  # it ends the session: use a session of its own
    steps_only: bool = field(default=False)  # only for sessions at a sign-in step (MFA)


def api(path: str, allowed, **kwargs) -> list[Example]:
    return [Example(path, frozenset(allowed), **kwargs)]


def page(path: str, allowed, **kwargs) -> list[Example]:
    form = kwargs.pop("form", {})
    return [Example(path, frozenset(allowed), form=form, **kwargs)]


ACCOUNT = f"/api/accounts/{MISSING}"
ADMIN_PAGE = f"/admin/users/{MISSING}"

# (method, route) -> examples. THE authorization table.
ACCESS: dict[tuple[str, str], list[Example]] = {
    # -- operational --------------------------------------------------------------------------
    ("GET", "/healthz"): api("/healthz", ANYONE),
    ("GET", "/api/openapi.json"): api("/api/openapi.json", ANYONE, expect=200),
    # Operators only (PMP_OPERATOR_TOKEN): a session token is not one, whatever the role.
    ("POST", "/api/diagnostics/probes"): api("/api/diagnostics/probes", NOBODY),
    ("GET", "/api/diagnostics/probes/<uuid:probe_id>"): api(
        f"/api/diagnostics/probes/{MISSING}", NOBODY
    ),
    # -- sessions and the signed-in user's own account (API) ---------------------------------
    ("POST", "/api/sessions"): api("/api/sessions", ANYONE, json={}, expect=422),
    ("GET", "/api/session"): api("/api/session", EVERY_ROLE, expect=200),
    ("DELETE", "/api/session"): api("/api/session", EVERY_ROLE, expect=204, fresh_session=True),
    ("POST", "/api/session/mfa"): api("/api/session/mfa", NOBODY, json={}, steps_only=True),
    ("POST", "/api/me/password"): api("/api/me/password", EVERY_ROLE, json={}, expect=422),
    ("POST", "/api/me/mfa"): api("/api/me/mfa", EVERY_ROLE, expect=200),
    ("POST", "/api/me/mfa/confirm"): api("/api/me/mfa/confirm", EVERY_ROLE, json={}, expect=422),
    ("GET", "/api/security-questions"): api("/api/security-questions", ANYONE, expect=200),
    ("PUT", "/api/me/security-questions"): api(
        "/api/me/security-questions", EVERY_ROLE, json={}, expect=422
    ),
    ("POST", "/api/password-resets"): api("/api/password-resets", ANYONE, json={}, expect=422),
    ("GET", "/api/password-resets/<link>"): api(
        f"/api/password-resets/{MISSING}.nope", ANYONE, expect=422
    ),
    ("POST", "/api/password-resets/<link>"): api(
        f"/api/password-resets/{MISSING}.nope", ANYONE, json={}, expect=422
    ),
    # -- administrators (API) ----------------------------------------------------------------
    ("GET", "/api/accounts"): api("/api/accounts", ACCOUNT_STAFF, expect=200),
    ("POST", "/api/accounts"): api("/api/accounts", ADMINISTRATORS, json={}, expect=422),
    ("GET", "/api/accounts/<uuid:account_id>"): api(ACCOUNT, ACCOUNT_STAFF, expect=404),
    ("POST", "/api/accounts/<uuid:account_id>/suspend"): api(
        ACCOUNT + "/suspend", ADMINISTRATORS, json=REASON, expect=404
    ),
    ("POST", "/api/accounts/<uuid:account_id>/reinstate"): api(
        ACCOUNT + "/reinstate", ADMINISTRATORS, json=REASON, expect=404
    ),
    ("POST", "/api/accounts/<uuid:account_id>/revoke"): api(
        ACCOUNT + "/revoke", ADMINISTRATORS, json=REASON, expect=404
    ),
    ("POST", "/api/accounts/<uuid:account_id>/remove"): api(
        ACCOUNT + "/remove", ADMINISTRATORS, json=REASON, expect=404
    ),
    ("POST", "/api/accounts/<uuid:account_id>/unlock"): api(
        ACCOUNT + "/unlock", ACCOUNT_STAFF, json=REASON, expect=404
    ),
    ("POST", "/api/accounts/<uuid:account_id>/reset-mfa"): api(
        ACCOUNT + "/reset-mfa", ACCOUNT_STAFF, json=REASON, expect=404
    ),
    ("POST", "/api/accounts/<uuid:account_id>/permissions"): api(
        f"{ACCOUNT}/permissions",
        ADMINISTRATORS,
        json={**REASON, "permission": "mm_registry.verify", "granted": True},
        expect=404,
    ),
    ("POST", "/api/accounts/<uuid:account_id>/role"): api(
        ACCOUNT + "/role", ADMINISTRATORS, json={"role": "auditor", **REASON}, expect=404
    ),
    ("POST", "/api/accounts/<uuid:account_id>/temporary-password"): api(
        ACCOUNT + "/temporary-password", ACCOUNT_STAFF, json=REASON, expect=404
    ),
    # resets of administrators: user.reset_approve; the mail room: letters.post
    ("GET", "/api/credential-requests"): api(
        "/api/credential-requests", ADMINISTRATORS, expect=200
    ),
    ("POST", "/api/accounts/<uuid:account_id>/credential-requests/<uuid:request_id>/<decision>"): [
        *api(f"{ACCOUNT}/credential-requests/{MISSING}/approve", ADMINISTRATORS, expect=404),
        *api(
            f"{ACCOUNT}/credential-requests/{MISSING}/decline", ADMINISTRATORS, json={}, expect=404
        ),
    ],  # fmt: skip
    ("GET", "/api/letters"): api("/api/letters", ADMINISTRATORS, expect=200),
    ("POST", "/api/letters/<uuid:letter_id>/print"): api(
        f"/api/letters/{MISSING}/print", ADMINISTRATORS, expect=404
    ),
    ("POST", "/api/letters/<uuid:letter_id>/posted"): api(
        f"/api/letters/{MISSING}/posted", ADMINISTRATORS, expect=404
    ),
    # -- registration (API): the shared users have no application, so "mine" is a 404 -------
    ("POST", "/api/sign-ups"): api("/api/sign-ups", ANYONE, json={}, expect=422),
    # the emailed link is the secret: anyone holding one may use it
    ("POST", "/api/sign-ups/<link>"): api(
        "/api/sign-ups/bm9ib2R5.1.nope", ANYONE, json={"password": NEW_PASSWORD}, expect=422
    ),
    ("GET", "/api/registration"): api("/api/registration", REGISTRANTS, expect=404),
    ("POST", "/api/registration"): api("/api/registration", REGISTRANTS, json={}, expect=422),
    ("PUT", "/api/registration/role"): api(
        "/api/registration/role", REGISTRANTS, json={}, expect=422
    ),
    ("POST", "/api/registration/verification"): api(
        "/api/registration/verification", REGISTRANTS, expect=404
    ),
    ("POST", "/api/registration/verification/<link>"): api(
        f"/api/registration/verification/{MISSING}.nope", ANYONE, expect=422
    ),
    ("PUT", "/api/registration/form"): api(
        "/api/registration/form", REGISTRANTS, json={}, expect=404
    ),
    ("GET", "/api/registration/documents"): api(
        "/api/registration/documents", REGISTRANTS, expect=404
    ),
    ("POST", "/api/registration/documents"): api(
        "/api/registration/documents",
        REGISTRANTS,
        expect=422,  # no file
    ),
    ("GET", "/api/registration/documents/<uuid:document_id>"): api(
        f"/api/registration/documents/{MISSING}", REGISTRANTS, expect=404
    ),
    ("DELETE", "/api/registration/documents/<uuid:document_id>"): api(
        f"/api/registration/documents/{MISSING}", REGISTRANTS, expect=404
    ),
    ("GET", "/api/registration/agreement"): api("/api/registration/agreement", ANYONE, expect=200),
    ("POST", "/api/registration/agreement"): api(
        "/api/registration/agreement", REGISTRANTS, json={}, expect=422
    ),
    ("GET", "/api/registration/confirmation.pdf"): api(
        "/api/registration/confirmation.pdf", REGISTRANTS, expect=404
    ),
    ("POST", "/api/registration/submission"): api(
        "/api/registration/submission", REGISTRANTS, expect=404
    ),
    ("POST", "/api/registration/renewal"): api(
        "/api/registration/renewal", REGISTRANTS, expect=404
    ),
    ("POST", "/api/registration/profile-change"): api(
        "/api/registration/profile-change", REGISTRANTS, json={}, expect=422
    ),
    # -- submissions (API) ------------------------------------------------------------------
    ("POST", "/api/submissions"): api("/api/submissions", SUBMITTERS, expect=422),  # no file
    ("GET", "/api/submissions/<uuid:submission_id>"): api(
        f"/api/submissions/{MISSING}", SUBMISSION_READERS, expect=404
    ),
    ("GET", "/api/submissions/<uuid:submission_id>/errors"): api(
        f"/api/submissions/{MISSING}/errors", SUBMISSION_READERS, expect=404
    ),
    # -- the patient index's review queue (API) ---------------------------------------------
    ("GET", "/api/patient-matches"): api("/api/patient-matches", ADMINISTRATORS, expect=200),
    ("GET", "/api/patient-matches/<int:patient_record>"): api(
        f"/api/patient-matches/{NO_RECORD}", ADMINISTRATORS, expect=404
    ),
    ("POST", "/api/patient-matches/<int:patient_record>/decision"): api(
        f"/api/patient-matches/{NO_RECORD}/decision",
        ADMINISTRATORS,
        json={"same": True},
        expect=404,
    ),  # fmt: skip
    # -- patient search and reports (API) ----------------------------------------------------
    # A valid search, as a prescriber attests it (others' purposes differ: 422). The shared
    # delegate has no approved supervisor, so the query service refuses them: 403.
    ("POST", "/api/searches"): [
        *api("/api/searches", UNSUPERVISED_REFUSED, json=SEARCH),
        *api("/api/searches", SEARCHERS, json={}, expect=422),
    ],
    ("GET", "/api/searches/<uuid:search_id>/report"): api(
        f"/api/searches/{MISSING}/report?person={MISSING}", UNSUPERVISED_REFUSED, expect=404
    ),
    ("GET", "/api/searches/<uuid:search_id>/report.pdf"): api(
        f"/api/searches/{MISSING}/report.pdf?person={MISSING}", UNSUPERVISED_REFUSED, expect=404
    ),
    ("GET", "/api/searches/<uuid:search_id>/alerts.pdf"): api(
        f"/api/searches/{MISSING}/alerts.pdf?person={MISSING}", UNSUPERVISED_REFUSED, expect=404
    ),
    ("POST", "/api/alerts/<uuid:alert_id>/acknowledgements"): [
        *api(f"/api/alerts/{MISSING}/acknowledgements", ACKNOWLEDGERS, json=SNOOZE, expect=404),
        *api(f"/api/alerts/{MISSING}/acknowledgements", ACKNOWLEDGERS, json={}, expect=422),
    ],
    ("GET", "/api/alert-policy"): api("/api/alert-policy", ADMINISTRATORS, expect=200),
    # -- medical marijuana registry (API and pages) ------------------------------------------
    ("POST", "/api/mm/verifications"): [
        *api("/api/mm/verifications", VERIFIERS, json=NO_CARD, expect=200),
        *api("/api/mm/verifications", VERIFIERS, json={}, expect=422),
    ],
    ("POST", "/api/mm/imports"): api("/api/mm/imports", ADMINISTRATORS, expect=422),  # no file
    ("GET", "/mm/verify"): page("/mm/verify", VERIFIERS, expect=200),
    ("POST", "/mm/verify"): [
        *page("/mm/verify", VERIFIERS, form=NO_CARD, expect=200),
        *page("/mm/verify", VERIFIERS, expect=422),  # nothing entered
    ],
    ("GET", "/admin/mm-registry"): page("/admin/mm-registry", ADMINISTRATORS, expect=200),
    ("POST", "/admin/mm-registry"): page(
        "/admin/mm-registry",
        ADMINISTRATORS,
        expect=422,  # no file
    ),
    # a card's record and the dispensations under unknown numbers: mm_registry.records
    ("GET", "/api/mm/cards/<card_number>"): [
        *api(f"/api/mm/cards/{NO_CARD['card_number']}", ADMINISTRATORS, expect=404),
        *api("/api/mm/cards/not%20a%20card", ADMINISTRATORS, expect=422),
    ],
    ("GET", "/api/mm/dispensations-to-check"): [
        *api("/api/mm/dispensations-to-check?page=2", ADMINISTRATORS, expect=200),
        *api("/api/mm/dispensations-to-check?page=first", ADMINISTRATORS, expect=422),
    ],
    ("GET", "/admin/mm-registry/cards"): [  # the "Find a card" form: on to the card's page
        *page("/admin/mm-registry/cards?card_number=mm-no-such-0", ADMINISTRATORS, expect=303),
        *page("/admin/mm-registry/cards?card_number=", ADMINISTRATORS, expect=422),
    ],
    ("GET", "/admin/mm-registry/cards/<card_number>"): page(
        f"/admin/mm-registry/cards/{NO_CARD['card_number']}", ADMINISTRATORS, expect=404
    ),
    ("GET", "/admin/mm-registry/to-check"): page(
        "/admin/mm-registry/to-check", ADMINISTRATORS, expect=200
    ),
    ("PUT", "/api/alert-policy"): api("/api/alert-policy", ADMINISTRATORS, json={}, expect=422),
    ("GET", "/api/audit/users/<uuid:account_id>/activity.jsonl"): api(
        f"/api/audit/users/{MISSING}/activity.jsonl", AUDIT_READERS, expect=200
    ),
    ("GET", "/api/audit/users/<uuid:account_id>/activity.pdf"): api(
        f"/api/audit/users/{MISSING}/activity.pdf", AUDIT_READERS, expect=200
    ),
    ("GET", "/audit/activity"): page(f"/audit/activity?account={MISSING}", AUDIT_READERS),
    ("GET", "/audit/activity.jsonl"): page(
        f"/audit/activity.jsonl?account={MISSING}", AUDIT_READERS, expect=200
    ),
    ("GET", "/audit/activity.pdf"): page(
        f"/audit/activity.pdf?account={MISSING}", AUDIT_READERS, expect=200
    ),
    ("GET", "/api/audit/as-of/registrations/<uuid:account_id>"): [
        *api(f"/api/audit/as-of/registrations/{MISSING}?at={AT}", AUDIT_READERS, expect=200),
        *api(
            f"/api/audit/as-of/registrations/{MISSING}?at=2026-11-01", AUDIT_READERS, expect=422
        ),  # fmt: skip
    ],
    ("GET", "/api/audit/as-of/report"): api(AS_OF_REPORT, AUDIT_READERS, expect=200),
    ("GET", "/api/audit/as-of/report.pdf"): api(
        AS_OF_REPORT.replace("report?", "report.pdf?"), AUDIT_READERS, expect=200
    ),
    ("GET", "/api/audit/entries/<int:entry>/as-seen"): api(
        f"/api/audit/entries/{NO_RECORD}/as-seen", AUDIT_READERS, expect=422
    ),
    ("GET", "/api/audit/entries/<int:entry>/as-seen.pdf"): api(
        f"/api/audit/entries/{NO_RECORD}/as-seen.pdf", AUDIT_READERS, expect=422
    ),
    ("GET", "/audit/as-of"): page(f"/audit/as-of?account={MISSING}&day=2026-11-01", AUDIT_READERS),
    ("GET", "/audit/as-of/report.pdf"): page(
        AS_OF_REPORT.replace("/api/audit/as-of/report?", "/audit/as-of/report.pdf?"),
        AUDIT_READERS,
        expect=200,
    ),  # fmt: skip
    ("GET", "/audit/entries/<int:entry>/as-seen.pdf"): page(
        f"/audit/entries/{NO_RECORD}/as-seen.pdf", AUDIT_READERS, expect=422
    ),
    ("GET", "/api/audit/history"): [
        *api("/api/audit/history?source=identity&order=oldest", AUDIT_READERS, expect=200),
        *api("/api/audit/history?order=sideways", AUDIT_READERS, expect=422),
    ],
    ("GET", "/api/audit/signals"): [
        *api("/api/audit/signals?kind=surname", AUDIT_READERS, expect=200),
        *api("/api/audit/signals?kind=sideways", AUDIT_READERS, expect=422),
    ],
    ("GET", "/audit/signals"): [
        *page(f"/audit/signals?account={MISSING}", AUDIT_READERS, expect=200),
        *page("/audit/signals?kind=sideways", AUDIT_READERS, expect=422),
    ],
    ("GET", "/api/statistics"): [
        *api("/api/statistics?group=role", ADMINISTRATORS, expect=200),
        *api("/api/statistics?group=week", ADMINISTRATORS, expect=422),
    ],
    ("GET", "/api/statistics.csv"): api("/api/statistics.csv", ADMINISTRATORS, expect=200),
    ("GET", "/api/statistics.pdf"): api("/api/statistics.pdf", ADMINISTRATORS, expect=200),
    ("GET", "/api/delegates"): api("/api/delegates", SUPERVISORS, expect=200),
    ("POST", "/api/delegates/<uuid:account_id>/<decision>"): [
        *api(f"/api/delegates/{MISSING}/approve", SUPERVISORS, expect=404),
        *api(f"/api/delegates/{MISSING}/decline", SUPERVISORS, json={}, expect=422),
    ],
    ("GET", "/api/registrations"): api("/api/registrations", ADMINISTRATORS, expect=200),
    ("GET", "/api/registrations/<uuid:account_id>"): api(
        f"/api/registrations/{MISSING}", ADMINISTRATORS, expect=404
    ),
    ("POST", "/api/registrations/<uuid:account_id>/<action>"): [
        *api(f"/api/registrations/{MISSING}/approve", ADMINISTRATORS, expect=404),
        *api(f"/api/registrations/{MISSING}/reject", ADMINISTRATORS, json=REASON, expect=404),
        *api(
            f"/api/registrations/{MISSING}/request-information",
            ADMINISTRATORS,
            json={"message": "authorization test"},
            expect=404,
        ),
    ],
    ("GET", "/api/registrations/<uuid:account_id>/documents/<uuid:document_id>"): api(
        f"/api/registrations/{MISSING}/documents/{MISSING}", ADMINISTRATORS, expect=404
    ),
    ("GET", "/api/renewal-policy"): api("/api/renewal-policy", ADMINISTRATORS, expect=200),
    ("PUT", "/api/renewal-policy"): api("/api/renewal-policy", ADMINISTRATORS, json={}, expect=422),
    ("GET", "/api/profile-changes"): api("/api/profile-changes", ADMINISTRATORS, expect=200),
    ("POST", "/api/profile-changes/<uuid:account_id>/<decision>"): [
        *api(f"/api/profile-changes/{MISSING}/approve", ADMINISTRATORS, expect=404),
        *api(f"/api/profile-changes/{MISSING}/reject", ADMINISTRATORS, json={}, expect=422),
    ],
    # -- public pages --------------------------------------------------------------------------
    ("GET", "/"): page("/", ANYONE, expect=200),
    ("GET", "/status"): page("/status", ANYONE, expect=200),
    ("GET", "/static/<path:filename>"): page("/static/app.css", ANYONE, expect=200),
    ("GET", "/login"): page("/login", ANYONE, expect=200),
    ("POST", "/login"): page("/login", ANYONE, expect=422),
    ("GET", "/password/forgot"): page("/password/forgot", ANYONE, expect=200),
    ("POST", "/password/forgot"): page("/password/forgot", ANYONE),
    ("GET", "/password/reset/<path:link>"): page(f"/password/reset/{MISSING}.nope", ANYONE),
    ("POST", "/password/reset/<path:link>"): page(f"/password/reset/{MISSING}.nope", ANYONE),
    # Signing out needs no session (it ends one if there is one).
    ("POST", "/logout"): page("/logout", ANYONE, expect=303, fresh_session=True),
    # -- the sign-in steps and the signed-in user's own pages ----------------------------------
    ("GET", "/login/mfa"): page("/login/mfa", NOBODY, steps_only=True),
    ("POST", "/login/mfa"): page("/login/mfa", NOBODY, steps_only=True),
    ("GET", "/password/change"): page("/password/change", EVERY_ROLE, expect=200),
    ("POST", "/password/change"): page("/password/change", EVERY_ROLE, expect=422),
    ("GET", "/account"): page("/account", EVERY_ROLE, expect=200),
    ("POST", "/account/security-questions"): page(
        "/account/security-questions", EVERY_ROLE, expect=422
    ),
    ("GET", "/account/mfa"): page("/account/mfa", EVERY_ROLE, expect=200),
    ("POST", "/account/mfa"): page("/account/mfa", EVERY_ROLE),  # no secret: back to the form
    # -- administrators' pages -----------------------------------------------------------------
    ("GET", "/admin/users"): page("/admin/users", ACCOUNT_STAFF, expect=200),
    ("GET", "/admin/users/new"): page("/admin/users/new", ADMINISTRATORS, expect=200),
    ("POST", "/admin/users"): page("/admin/users", ADMINISTRATORS, expect=422),
    ("GET", "/admin/users/<uuid:account_id>"): page(ADMIN_PAGE, ACCOUNT_STAFF, expect=404),
    ("POST", "/admin/users/<uuid:account_id>/temporary-password"): page(
        ADMIN_PAGE + "/temporary-password", ACCOUNT_STAFF, form=REASON
    ),
    ("GET", "/admin/approvals"): page("/admin/approvals", ADMINISTRATORS, expect=200),
    ("POST", "/admin/approvals/<uuid:account_id>/<uuid:request_id>/<decision>"): page(
        f"/admin/approvals/{MISSING}/{MISSING}/approve", ADMINISTRATORS, expect=404
    ),
    ("GET", "/admin/letters"): page("/admin/letters", ADMINISTRATORS, expect=200),
    ("POST", "/admin/letters/<uuid:letter_id>/<action>"): [
        *page(f"/admin/letters/{MISSING}/print", ADMINISTRATORS, expect=404),
        *page(f"/admin/letters/{MISSING}/posted", ADMINISTRATORS, expect=404),
    ],
    ("POST", "/admin/users/<uuid:account_id>/<action>"): [
        *page(ADMIN_PAGE + "/suspend", ADMINISTRATORS, form=REASON),
        *page(ADMIN_PAGE + "/reinstate", ADMINISTRATORS, form=REASON),
        *page(ADMIN_PAGE + "/revoke", ADMINISTRATORS, form={**REASON, "confirm": "1"}),
        *page(ADMIN_PAGE + "/remove", ADMINISTRATORS, form={**REASON, "confirm": "1"}),
        *page(ADMIN_PAGE + "/unlock", ACCOUNT_STAFF, form=REASON),
        *page(ADMIN_PAGE + "/reset-mfa", ACCOUNT_STAFF, form=REASON),
        *page(ADMIN_PAGE + "/role", ADMINISTRATORS, form={"role": "auditor", **REASON}),
        *page(ADMIN_PAGE + "/registry-grant", ADMINISTRATORS, form=REASON),
        *page(ADMIN_PAGE + "/registry-withdraw", ADMINISTRATORS, form=REASON),
    ],
    # -- registration pages: applicants (no application yet: sent to choose a role) ------------
    ("GET", "/register"): page("/register", ANYONE),  # registrants: on to their application
    ("POST", "/register"): page("/register", ANYONE, expect=422),
    ("GET", "/register/verify/<path:link>"): page(
        f"/register/verify/{MISSING}.nope", ANYONE, expect=422
    ),
    ("GET", "/register/sent"): page("/register/sent", ANYONE, expect=200),
    ("GET", "/register/confirm/<path:link>"): page(
        "/register/confirm/bm9ib2R5.1.nope", ANYONE, expect=422
    ),
    ("POST", "/register/confirm/<path:link>"): page(
        "/register/confirm/bm9ib2R5.1.nope", ANYONE, expect=422
    ),
    ("GET", "/application"): page("/application", REGISTRANTS),
    ("GET", "/application/role"): page("/application/role", REGISTRANTS, expect=200),
    ("POST", "/application/role"): page("/application/role", REGISTRANTS, expect=422),
    ("POST", "/application/verification"): page("/application/verification", REGISTRANTS),
    ("GET", "/application/form"): page("/application/form", REGISTRANTS),
    ("POST", "/application/form"): page("/application/form", REGISTRANTS),
    ("GET", "/application/documents"): page("/application/documents", REGISTRANTS),
    ("POST", "/application/documents"): page("/application/documents", REGISTRANTS),
    ("POST", "/application/documents/<uuid:document_id>/remove"): page(
        f"/application/documents/{MISSING}/remove", REGISTRANTS
    ),
    ("GET", "/application/documents/<uuid:document_id>"): page(
        f"/application/documents/{MISSING}", REGISTRANTS, expect=404
    ),
    ("GET", "/application/agreement"): page("/application/agreement", REGISTRANTS),
    ("POST", "/application/agreement"): page("/application/agreement", REGISTRANTS),
    ("GET", "/application/confirmation.pdf"): page("/application/confirmation.pdf", REGISTRANTS),
    ("POST", "/application/submit"): page("/application/submit", REGISTRANTS),
    ("POST", "/application/renew"): page("/application/renew", REGISTRANTS),
    ("GET", "/account/profile-change"): page("/account/profile-change", REGISTRANTS, expect=200),
    ("POST", "/account/profile-change"): page("/account/profile-change", REGISTRANTS, expect=409),
    # -- patient search and reports (pages); the shared delegate: as in the API ---------------
    ("GET", "/search"): page("/search", SEARCHERS, expect=200),
    ("POST", "/alerts/<uuid:alert_id>/acknowledge"): page(
        f"/alerts/{MISSING}/acknowledge", ACKNOWLEDGERS, form=SNOOZE_FORM, expect=404
    ),
    ("GET", "/admin/alert-policy"): page("/admin/alert-policy", ADMINISTRATORS, expect=200),
    ("POST", "/admin/alert-policy"): page("/admin/alert-policy", ADMINISTRATORS, expect=422),
    ("POST", "/search"): page("/search", UNSUPERVISED_REFUSED, form=SEARCH_FORM),
    ("GET", "/searches/<uuid:search_id>/report"): page(
        f"/searches/{MISSING}/report?person={MISSING}", UNSUPERVISED_REFUSED, expect=404
    ),
    ("GET", "/searches/<uuid:search_id>/report.pdf"): page(
        f"/searches/{MISSING}/report.pdf?person={MISSING}", UNSUPERVISED_REFUSED, expect=404
    ),
    ("GET", "/searches/<uuid:search_id>/alerts.pdf"): page(
        f"/searches/{MISSING}/alerts.pdf?person={MISSING}", UNSUPERVISED_REFUSED, expect=404
    ),
    ("GET", "/admin/statistics"): page("/admin/statistics?group=day", ADMINISTRATORS, expect=200),
    ("GET", "/admin/statistics.csv"): page("/admin/statistics.csv", ADMINISTRATORS, expect=200),
    ("GET", "/admin/statistics.pdf"): page("/admin/statistics.pdf", ADMINISTRATORS, expect=200),
    # -- supervisors' and administrators' registration pages ---------------------------------
    # -- submissions (pages) ----------------------------------------------------------------
    ("GET", "/submissions"): page("/submissions", SUBMITTERS, expect=200),
    ("POST", "/submissions"): page("/submissions", SUBMITTERS, expect=422),  # no file
    ("GET", "/submissions/<uuid:submission_id>"): page(
        f"/submissions/{MISSING}", SUBMISSION_READERS, expect=404
    ),
    ("GET", "/submissions/<uuid:submission_id>/errors.csv"): page(
        f"/submissions/{MISSING}/errors.csv", SUBMISSION_READERS, expect=404
    ),
    # -- the patient index's review queue (pages) -------------------------------------------
    ("GET", "/admin/patient-matches"): page("/admin/patient-matches", ADMINISTRATORS, expect=200),
    ("GET", "/admin/patient-matches/<int:patient_record>"): page(
        f"/admin/patient-matches/{NO_RECORD}", ADMINISTRATORS, expect=404
    ),
    ("POST", "/admin/patient-matches/<int:patient_record>"): page(
        f"/admin/patient-matches/{NO_RECORD}", ADMINISTRATORS, form={"same": "no"}, expect=404
    ),
    ("GET", "/delegates"): page("/delegates", SUPERVISORS, expect=200),
    ("POST", "/delegates/<uuid:account_id>/<decision>"): [
        *page(f"/delegates/{MISSING}/approve", SUPERVISORS),
        *page(f"/delegates/{MISSING}/decline", SUPERVISORS, expect=422),  # no reason
    ],
    ("GET", "/admin/registrations"): page("/admin/registrations", ADMINISTRATORS, expect=200),
    ("GET", "/admin/registrations/<uuid:account_id>"): page(
        f"/admin/registrations/{MISSING}", ADMINISTRATORS, expect=404
    ),
    ("POST", "/admin/registrations/<uuid:account_id>/<action>"): [
        *page(f"/admin/registrations/{MISSING}/approve", ADMINISTRATORS),
        *page(f"/admin/registrations/{MISSING}/reject", ADMINISTRATORS, form=REASON),
        *page(
            f"/admin/registrations/{MISSING}/request-information",
            ADMINISTRATORS,
            form={"message": "authorization test"},
        ),
    ],
    ("GET", "/admin/registrations/<uuid:account_id>/documents/<uuid:document_id>"): page(
        f"/admin/registrations/{MISSING}/documents/{MISSING}", ADMINISTRATORS, expect=404
    ),
    ("GET", "/admin/renewal-policy"): page("/admin/renewal-policy", ADMINISTRATORS, expect=200),
    ("POST", "/admin/renewal-policy"): page("/admin/renewal-policy", ADMINISTRATORS, expect=422),
    ("GET", "/admin/profile-changes"): page("/admin/profile-changes", ADMINISTRATORS, expect=200),
    ("POST", "/admin/profile-changes/<uuid:account_id>/<decision>"): [
        *page(f"/admin/profile-changes/{MISSING}/approve", ADMINISTRATORS),
        *page(f"/admin/profile-changes/{MISSING}/reject", ADMINISTRATORS, expect=422),
    ],
    # -- the help desk: anyone opens a ticket; users their own; staff the queue -------------
    ("POST", "/api/tickets"): api("/api/tickets", ANYONE, json={}, expect=422),
    ("POST", "/api/ticket-confirmations/<link>"): api(
        f"/api/ticket-confirmations/{MISSING}.nope", ANYONE, expect=422
    ),
    ("GET", "/api/tickets"): api("/api/tickets", EVERY_ROLE, expect=200),
    ("GET", "/api/tickets/<uuid:ticket_id>"): api(TICKET, EVERY_ROLE, expect=404),
    ("GET", "/api/tickets/<uuid:ticket_id>/attachments/<uuid:document_id>"): api(
        f"{TICKET}/attachments/{MISSING}", EVERY_ROLE, expect=404
    ),
    ("POST", "/api/tickets/<uuid:ticket_id>/<action>"): [
        *api(f"{TICKET}/comments", EVERY_ROLE, json={"body": "authorization test"}, expect=404),
        *api(f"{TICKET}/reopen", EVERY_ROLE, json=REASON, expect=404),
        *[
            example
            for action, body in STAFF_TICKET_ACTIONS.items()
            for example in api(f"{TICKET}/{action}", TICKET_STAFF, json=body, expect=404)
        ],
    ],
    ("GET", "/api/helpdesk/queue"): api("/api/helpdesk/queue", TICKET_STAFF, expect=200),
    ("GET", "/api/helpdesk/policy"): api("/api/helpdesk/policy", ADMINISTRATORS, expect=200),
    ("PUT", "/api/helpdesk/policy"): api(
        "/api/helpdesk/policy", ADMINISTRATORS, json={}, expect=422
    ),
    ("GET", "/api/helpdesk/reports/<month>"): api(
        "/api/helpdesk/reports/2026-11", ADMINISTRATORS, expect=200
    ),
    ("GET", "/help/tickets/new"): page("/help/tickets/new", ANYONE, expect=200),
    ("GET", "/help/confirm/<path:link>"): page(f"/help/confirm/{MISSING}.nope", ANYONE, expect=422),
    ("POST", "/help/tickets/new"): page("/help/tickets/new", ANYONE, expect=422),
    ("GET", "/help/tickets"): page("/help/tickets", EVERY_ROLE, expect=200),
    ("GET", "/help/tickets/<uuid:ticket_id>"): page(TICKET_PAGE, EVERY_ROLE, expect=404),
    ("GET", "/help/tickets/<uuid:ticket_id>/attachments/<uuid:document_id>"): page(
        f"{TICKET_PAGE}/attachments/{MISSING}", EVERY_ROLE, expect=404
    ),
    ("POST", "/help/tickets/<uuid:ticket_id>/<action>"): [
        *page(f"{TICKET_PAGE}/comments", EVERY_ROLE, form={"body": "test"}, expect=404),
        *page(f"{TICKET_PAGE}/reopen", EVERY_ROLE, form=REASON, expect=404),
        *[
            example
            for action, body in STAFF_TICKET_ACTIONS.items()
            for example in page(f"{TICKET_PAGE}/{action}", TICKET_STAFF, form=body, expect=404)
        ],
    ],
    ("GET", "/helpdesk/queue"): page("/helpdesk/queue?assignee=me", TICKET_STAFF, expect=200),
    ("GET", "/admin/helpdesk-policy"): page("/admin/helpdesk-policy", ADMINISTRATORS, expect=200),
    ("POST", "/admin/helpdesk-policy"): page("/admin/helpdesk-policy", ADMINISTRATORS, expect=422),
    ("GET", "/admin/helpdesk-report"): page(
        "/admin/helpdesk-report?month=2026-11", ADMINISTRATORS, expect=200
    ),
    ("GET", "/admin/helpdesk-report.csv"): page(
        "/admin/helpdesk-report.csv?month=2026-11", ADMINISTRATORS, expect=200
    ),
    # -- everything else: not found, for everyone ------------------------------------------
    ("GET,POST,PUT,PATCH,DELETE", "/<path:path>"): [
        Example(f"/{prefix}no-such-thing", ANYONE, method=method, expect=404)
        for prefix in ("", "api/")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    ],
}


def gateway_entrypoints() -> set[tuple[str, str]]:
    """(method, route) of every HTTP entrypoint of the gateway, its mixins' included."""
    found = set()
    for attr in dir(GatewayService):
        for entrypoint in getattr(getattr(GatewayService, attr), ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if hasattr(entrypoint, "url"):
                found.add((entrypoint.method, entrypoint.url))
    return found


def test_every_gateway_endpoint_has_an_authorization_decision():
    entrypoints = gateway_entrypoints()
    assert entrypoints - set(ACCESS) == set(), "routes with no authorization decision"
    assert set(ACCESS) - entrypoints == set(), "decisions for routes that no longer exist"
    for examples in ACCESS.values():
        assert examples and all(example.allowed <= set(WHO) for example in examples)


CASES = [
    pytest.param(route, example, who, id=f"{example.method or route[0]} {example.path} as {who}")
    for route, examples in ACCESS.items()
    for example in examples
    for who in WHO
]


@pytest.fixture(scope="session")
def users(stack, tmp_path_factory) -> dict[str, User]:
    return every_role(stack, tmp_path_factory.mktemp("letters"))


@pytest.fixture(scope="session")
def csrf(stack) -> tuple[str, str]:
    """A CSRF cookie and the form token that matches it, as the sign-in page hands them out."""
    with requests.Session() as browser:
        response = browser.get(stack.url + "/login", timeout=30)
        assert response.status_code == 200, response.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', response.text).group(1)
        return browser.cookies["pmp_csrf"], token


def fresh_token(stack: Stack, user: User) -> str:
    """A new session of ``user``'s (at the MFA step for roles that use an authenticator)."""
    response = stack.post("/api/sessions", json={"email": user.email, "password": user.password})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def call(stack: Stack, route, example: Example, token: str | None, csrf) -> requests.Response:
    method = example.method or route[0]
    is_api = example.path.startswith("/api/") or example.path == "/healthz"
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    kwargs: dict[str, Any] = {}
    if is_api:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if example.json is not None:
            kwargs["json"] = example.json
    else:
        headers["Accept"] = "text/html"
        cookie, form_token = csrf
        cookies["pmp_csrf"] = cookie
        if token:
            cookies["pmp_session"] = token
        if method == "POST":
            kwargs["data"] = {**(example.form or {}), "csrf_token": form_token}
    return requests.request(
        method,
        stack.url + example.path,
        headers=headers,
        cookies=cookies,
        allow_redirects=False,
        timeout=30,
        **kwargs,
    )


def server_error(stack: Stack, response: requests.Response) -> list[dict]:
    """What the services logged for the request that failed."""
    correlation_id = response.headers.get("X-Correlation-ID")
    return [line for line in stack.log_lines() if correlation_id in str(line.values())]


def sent_to_sign_in(response: requests.Response) -> bool:
    return response.status_code == 303 and response.headers["Location"].startswith("/login?next=")


@SQLITE
@pytest.mark.parametrize(("route", "example", "who"), CASES)
def test_who_may_call_what(stack, users, csrf, route, example, who):
    user = users.get(who)
    token = None
    if user is not None:
        token = fresh_token(stack, user) if example.fresh_session else user.token
    response = call(stack, route, example, token, csrf)
    is_api = example.path.startswith("/api/") or example.path == "/healthz"
    outcome = (response.status_code, response.headers.get("Location"), response.text[:300])
    assert response.status_code < 500, server_error(stack, response)

    if who in example.allowed:
        assert response.status_code not in {401, 403}, outcome
        assert not sent_to_sign_in(response), outcome
        if example.expect is not None:
            assert response.status_code == example.expect, outcome
    elif who == ANONYMOUS:
        if is_api:
            assert response.status_code == 401, outcome
        else:
            assert sent_to_sign_in(response), outcome
    elif example.steps_only:
        # A fully signed-in session is past this step: refused (API) or sent on (pages).
        if is_api:
            assert response.status_code == 403, outcome
        else:
            assert response.status_code == 303, outcome
            assert not sent_to_sign_in(response), outcome
    elif route[1].startswith("/api/diagnostics/"):
        assert response.status_code == 401, outcome  # a session token is no operator token
    else:
        assert response.status_code == 403, outcome


PRESCRIPTION_ROLES = SEARCHERS | SUPERVISORS | ACKNOWLEDGERS
# Every route that reaches prescription data (search, reports, alerts, delegates): those
# only prescription roles may call.
PRESCRIPTION_ROUTES = {
    route: examples
    for route, examples in ACCESS.items()
    if any(e.allowed and e.allowed <= PRESCRIPTION_ROLES for e in examples)
}


def test_the_registry_only_officer_is_allowed_no_prescription_route_and_every_registry_one():
    assert {r[1] for r in PRESCRIPTION_ROUTES} >= {
        "/api/searches", "/api/searches/<uuid:search_id>/report", "/search",
        "/searches/<uuid:search_id>/report", "/searches/<uuid:search_id>/report.pdf",
    }  # fmt: skip
    for examples in PRESCRIPTION_ROUTES.values():
        assert all(Role.LAW_ENFORCEMENT_MM not in e.allowed for e in examples)
    for route in (("POST", "/api/mm/verifications"), ("GET", "/mm/verify"), ("POST", "/mm/verify")):
        assert all(Role.LAW_ENFORCEMENT_MM in e.allowed for e in ACCESS[route])


@SQLITE
def test_a_registry_only_officer_is_refused_every_prescription_endpoint_and_page(
    stack, users, csrf
):
    officer = users[str(Role.LAW_ENFORCEMENT_MM)]
    for route, examples in PRESCRIPTION_ROUTES.items():
        for example in examples:
            response = call(stack, route, example, officer.token, csrf)
            assert response.status_code == 403, (route, response.status_code)
    home = requests.get(stack.url + "/", cookies={"pmp_session": officer.token}, timeout=30)
    assert 'href="/mm/verify"' in home.text and 'href="/search"' not in home.text


@SQLITE
def test_law_enforcement_with_prescription_access_has_the_card_module_beside_the_search(
    stack, users
):
    def search_page(role: Role) -> str:
        cookies = {"pmp_session": users[str(role)].token}
        response = requests.get(stack.url + "/search", cookies=cookies, timeout=30)
        assert response.status_code == 200
        return response.text

    officer = search_page(Role.LAW_ENFORCEMENT)
    assert 'action="/search"' in officer and 'action="/mm/verify"' in officer
    assert 'href="/mm/verify"' in officer
    prescriber = search_page(Role.PRESCRIBER)
    assert 'action="/mm/verify"' not in prescriber and 'href="/mm/verify"' not in prescriber


@SQLITE
def test_a_registry_only_officer_sees_only_the_verification_fields(stack, users, csrf):
    admin, officer = users[str(Role.ADMINISTRATOR)], users[str(Role.LAW_ENFORCEMENT_MM)]
    sample = (Path(__file__).resolve().parents[1] / "data" / "mm-registry-sample.csv").read_bytes()
    loaded = requests.post(
        stack.url + "/api/mm/imports", headers=admin.headers(), timeout=60,
        files={"file": ("registry.csv", sample)},
    )  # fmt: skip
    assert loaded.status_code == 200, loaded.text
    answer = requests.post(
        stack.url + "/api/mm/verifications", headers=officer.headers(), timeout=30,
        json={"card_number": "MM-100002"},
    )  # fmt: skip
    assert set(answer.json()) == {"verification_id", "checked_on", "result", "cards"}
    [card] = answer.json()["cards"]
    assert set(card) == {"name", "birth_date", "expiry_date", "caregiver", "status"}
    cookie, form_token = csrf
    page = requests.post(
        stack.url + "/mm/verify", timeout=30,
        cookies={"pmp_session": officer.token, "pmp_csrf": cookie},
        data={"card_number": "MM-100002", "csrf_token": form_token},
    )  # fmt: skip
    assert page.status_code == 200 and ">EXPIRED<" in page.text and "Grace Okafor" in page.text
    for withheld in ("40 Main St", "New Haven", "06510", "Maria Chen", "MM-100002", "2024-01-15"):
        assert withheld not in page.text and withheld not in answer.text


@SQLITE
def test_a_browser_session_signed_in_through_the_login_form_is_the_same(stack, users, csrf):
    """The cookie sessions above are API tokens; the sign-in form gives equivalent ones."""
    pharmacist = users[str(Role.PHARMACIST)]
    with requests.Session() as browser:
        login = browser.get(stack.url + "/login", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
        signed_in = browser.post(
            stack.url + "/login",
            data={"email": pharmacist.email, "password": NEW_PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=30,
        )
        assert signed_in.status_code == 303, signed_in.text
        assert "pmp_session" in browser.cookies
        assert browser.get(stack.url + "/account", timeout=30).status_code == 200
        refused = browser.get(stack.url + "/admin/users", allow_redirects=False, timeout=30)
        assert refused.status_code == 403


@SQLITE
def test_a_session_at_the_mfa_step_may_do_nothing_else(stack, users):
    admin = users[str(Role.ADMINISTRATOR)]
    token = fresh_token(stack, admin)  # administrators use an authenticator: stage "mfa"
    headers = {"Authorization": f"Bearer {token}"}
    assert stack.get("/api/session", headers=headers).json()["stage"] == "mfa"
    for path in ("/api/accounts", f"/api/accounts/{uuid.uuid4()}"):
        response = stack.get(path, headers=headers)
        assert response.status_code == 403 and response.json()["stage"] == "mfa"
    assert stack.post("/api/me/mfa", headers=headers).status_code == 403
    assert (
        stack.get("/account", cookies={"pmp_session": token}, allow_redirects=False).headers[
            "Location"
        ]
        == "/login/mfa"
    )


@SQLITE
def test_a_user_never_sees_another_users_ticket_or_internal_comments(stack, users, csrf):
    """The ticket's user sees it without internal comments; another user is told there is no
    such ticket, in the API and on the pages, and finds it in no list of theirs."""
    owner, other = users[str(Role.PRESCRIBER)], users[str(Role.PHARMACIST)]
    staff = users[str(Role.HELPDESK)]

    def as_(user, method, path, **kwargs):
        headers = {"Authorization": f"Bearer {user.token}"}
        return requests.request(method, stack.url + path, headers=headers, timeout=30, **kwargs)

    ticket = {"subject": "Report will not print", "description": "The PDF is blank.",
              "contact_name": "Owner", "contact_email": owner.email}  # fmt: skip
    opened = as_(owner, "POST", "/api/tickets", json=ticket)
    assert opened.status_code == 201, opened.text
    path = f"/api/tickets/{opened.json()['ticket_id']}"
    secret = "Internal: the user's clinic is on our watch list"
    noted = as_(staff, "POST", f"{path}/comments", json={"body": secret, "internal": True})
    assert noted.status_code == 200, noted.text
    reply = as_(staff, "POST", f"{path}/comments", json={"body": "Try another browser."})
    assert reply.status_code == 200, reply.text

    seen = as_(owner, "GET", path)
    assert seen.status_code == 200, seen.text
    assert [c["body"] for c in seen.json()["comments"]] == ["Try another browser."]
    assert secret not in seen.text
    assert secret in as_(staff, "GET", path).text

    assert as_(other, "GET", path).status_code == 404
    assert as_(other, "POST", f"{path}/comments", json={"body": "me"}).status_code == 404
    assert as_(other, "POST", f"{path}/reopen", json=REASON).status_code == 404
    assert as_(other, "POST", f"{path}/categorise", json={"category": "low"}).status_code == 403
    listed = as_(other, "GET", "/api/tickets").json()
    assert opened.json()["ticket_id"] not in {t["ticket_id"] for t in listed}
    assert opened.json()["ticket_id"] in {
        t["ticket_id"] for t in as_(owner, "GET", "/api/tickets").json()
    }
    page_path = f"/help/tickets/{opened.json()['ticket_id']}"
    cookies = {"pmp_session": other.token, "pmp_csrf": csrf[0]}
    assert requests.get(stack.url + page_path, cookies=cookies, timeout=30).status_code == 404
    own_page = requests.get(stack.url + page_path, cookies={"pmp_session": owner.token}, timeout=30)
    assert own_page.status_code == 200 and secret not in own_page.text
    assert "Try another browser." in own_page.text
    assert requests.get(stack.url + path, timeout=30).status_code == 401


# -- credential resets: actor role x target role x action (services/identity/resets.py) -------
#
# Written out here, independently of the table it checks. The help desk acts on registrants
# only, and only from an open access ticket of the same account; administrators on anyone
# but themselves, and on another administrator (temporary password, authenticator) only
# through a second administrator; nobody else on anybody. Run on both backends: the mail
# room's queue and the approvals are stored.

REGISTRANT_TARGETS = frozenset(
    {
        Role.PRESCRIBER,
        Role.PHARMACIST,
        Role.DELEGATE,
        Role.LAW_ENFORCEMENT,
        Role.LAW_ENFORCEMENT_MM,
        Role.DATA_SUBMITTER,
        Role.APPLICANT,
    }
)
RESET_ACTORS = [Role.HELPDESK, Role.ADMINISTRATOR, Role.AUDITOR, Role.PRESCRIBER]
RESET_ACTIONS = ("temporary-password", "unlock", "reset-mfa")


def reset_outcome(actor: str, target: str, action: str, with_ticket: bool) -> set[int]:
    """The statuses the stack must answer: 403 refused; 200 done (or a staff member's letter
    handed over); 202 queued for the post or waiting for a second administrator; 409 for an
    authenticator reset the table allows on an account with no authenticator."""
    if actor == Role.HELPDESK and not (target in REGISTRANT_TARGETS and with_ticket):
        return {403}
    if actor not in {Role.HELPDESK, Role.ADMINISTRATOR}:
        return {403}
    if action == "unlock":
        return {200}
    if target == Role.ADMINISTRATOR:
        return {202}  # only asked: a second administrator carries it out
    if action == "reset-mfa":
        return {200, 409}
    return {202} if target in REGISTRANT_TARGETS else {200}


def open_access_ticket(stack: Stack, user: User) -> str:
    """An access ticket the user opens about their own account (signed in)."""
    opened = requests.post(
        stack.url + "/api/tickets", headers=user.headers(), timeout=30,
        json={"subject": "Cannot sign in", "description": "My password no longer works.",
              "contact_name": "Target", "contact_email": user.email,
              "access_problem": "cannot_sign_in"},
    )  # fmt: skip
    assert opened.status_code == 201, (opened.text, server_error(stack, opened))
    return opened.json()["ticket_id"]


@pytest.fixture(scope="session")
def reset_targets(stack, users, tmp_path_factory) -> dict[str, tuple[User, str]]:
    """An account of every role to act on, each with an open access ticket of its own."""
    from tests.helpers.accounts import create_user, ready, sign_up

    tmp, admin = tmp_path_factory.mktemp("targets"), users[str(Role.ADMINISTRATOR)]
    targets = {}
    for role in Role:
        if role == Role.APPLICANT:
            user = sign_up(stack)
        else:
            user = ready(stack, create_user(stack, admin, str(role), tmp, last_name="Target"))
        targets[str(role)] = (user, open_access_ticket(stack, user))
    return targets


def attempt_reset(stack: Stack, actor: User, target: User, action: str, ticket_id: str | None):
    if action == "unlock":  # a failed sign-in on record, so that unlocking has work to do
        stack.post("/api/sessions", json={"email": target.email, "password": "Wrong-0000!x"})
    body = {"reason": "authorization test", "ticket_id": ticket_id}
    return requests.post(
        f"{stack.url}/api/accounts/{target.account_id}/{action}",
        headers=actor.headers(), json=body, timeout=30,
    )  # fmt: skip


@pytest.mark.parametrize("target", [str(r) for r in Role])
@pytest.mark.parametrize("actor", [str(r) for r in RESET_ACTORS])
def test_who_may_reset_whose_credentials(stack, users, reset_targets, actor, target):
    user, ticket_id = reset_targets[target]
    wrong = []
    for action in RESET_ACTIONS:
        for with_ticket in (False, True):
            response = attempt_reset(
                stack, users[actor], user, action, ticket_id if with_ticket else None
            )
            expected = reset_outcome(actor, target, action, with_ticket)
            if response.status_code not in expected:
                wrong.append((action, with_ticket, response.status_code, response.text[:200]))
            elif response.status_code == 202:
                assert response.json()["credential_letter_pdf"] is None, response.text
    assert wrong == [], f"{actor} on {target}"


def account_history(stack: Stack, admin: User, account_id: str) -> list[dict]:
    found = requests.get(f"{stack.url}/api/accounts/{account_id}", headers=admin.headers(),
                         timeout=30)  # fmt: skip
    assert found.status_code == 200, found.text
    return found.json()["history"]


def fresh(stack: Stack, users, role: str, tmp: Path, **fields) -> User:
    from tests.helpers.accounts import create_user, ready

    return ready(stack, create_user(stack, users[str(Role.ADMINISTRATOR)], role, tmp, **fields))


def test_the_help_desk_gets_no_letter_for_an_administrator_or_auditor(stack, users, tmp_path):
    """The probe's attack: as help desk, a temporary password letter for an administrator
    (then an auditor), with a reason and no ticket, or from the victim's own access ticket."""
    staff, admin = users[str(Role.HELPDESK)], users[str(Role.ADMINISTRATOR)]
    for role in (Role.ADMINISTRATOR, Role.AUDITOR):
        victim = fresh(stack, users, str(role), tmp_path)
        ticket_id = open_access_ticket(stack, victim)
        for body in ({"reason": "x" * 3}, {"reason": "caller verified", "ticket_id": ticket_id}):
            taken = requests.post(
                f"{stack.url}/api/accounts/{victim.account_id}/temporary-password",
                headers=staff.headers(), json=body, timeout=30,
            )  # fmt: skip
            assert taken.status_code == 403, taken.text
            assert "letter_pdf" not in taken.text
        from_ticket = requests.post(
            f"{stack.url}/api/tickets/{ticket_id}/temporary-password", headers=staff.headers(),
            json={"reason": "caller verified"}, timeout=30,
        )  # fmt: skip
        assert from_ticket.status_code == 403, from_ticket.text
        for action in ("unlock", "reset-mfa"):
            refused = attempt_reset(stack, staff, victim, action, ticket_id)
            assert refused.status_code == 403, refused.text
        # the victim's own password still works; the trail names each attempt and who made it
        signed_in = stack.post(
            "/api/sessions", json={"email": victim.email, "password": victim.password}
        )
        assert signed_in.status_code == 201, signed_in.text
        history = account_history(stack, admin, victim.account_id)
        assert not any(e["type"] == "TemporaryPasswordIssued" and e["actor_role"] == "helpdesk"
                       for e in history)  # fmt: skip
        refusals = [e for e in history if e["type"] == "CredentialActionRefused"]
        assert len(refusals) == 5, refusals  # two asked directly, one from the ticket, two more
        assert {e["actor_id"] for e in refusals} == {staff.account_id}
        assert "only an administrator" in refusals[0]["details"]["refusal"]


def test_the_help_desk_posts_a_prescriber_a_letter_only_from_their_open_access_ticket(
    stack, users, tmp_path
):
    from tests.helpers.accounts import letter_password, sign_in

    staff, admin = users[str(Role.HELPDESK)], users[str(Role.ADMINISTRATOR)]
    victim = fresh(stack, users, "prescriber", tmp_path, first_name="Rosa", last_name="Lind")
    other = fresh(stack, users, "pharmacist", tmp_path)
    url = f"{stack.url}/api/accounts/{victim.account_id}/temporary-password"

    def ask(**body):
        return requests.post(url, headers=staff.headers(), timeout=30,
                             json={"reason": "caller verified", **body})  # fmt: skip

    # no ticket; another account's ticket; a ticket that is not about access; a closed one
    assert ask().status_code == 403
    assert ask(ticket_id=open_access_ticket(stack, other)).status_code == 403
    question = requests.post(
        stack.url + "/api/tickets",
        headers=victim.headers(),
        timeout=30,
        json={
            "subject": "Totals",
            "description": "They look wrong.",
            "contact_name": "Rosa",
            "contact_email": victim.email,
        },
    )
    assert ask(ticket_id=question.json()["ticket_id"]).status_code == 403
    closed = open_access_ticket(stack, victim)
    shut = requests.post(f"{stack.url}/api/tickets/{closed}/close", headers=staff.headers(),
                         json={"reason": "duplicate"}, timeout=30)  # fmt: skip
    assert shut.status_code == 200, shut.text
    assert ask(ticket_id=closed).status_code == 403
    assert ask(ticket_id=str(uuid.uuid4())).status_code == 403
    signed_in = stack.post(
        "/api/sessions", json={"email": victim.email, "password": victim.password}
    )
    assert signed_in.status_code == 201, "the refusals changed nothing"
    victim.token = signed_in.json()["token"]

    # from the prescriber's open access ticket: queued for the post, nothing in the answer
    ticket_id = open_access_ticket(stack, victim)
    done = requests.post(
        f"{stack.url}/api/tickets/{ticket_id}/temporary-password",
        headers=staff.headers(),
        json={"reason": "caller verified"},
        timeout=30,
    )
    assert done.status_code == 202, done.text
    assert done.json()["outcome"] == "queued" and "letter_pdf" not in done.text
    letter_id = done.json()["letter_id"]
    old = stack.post("/api/sessions", json={"email": victim.email, "password": victim.password})
    assert old.status_code == 401, "the old password stopped working"
    # the help desk has no mail room
    assert requests.get(stack.url + "/api/letters", headers=staff.headers(),
                        timeout=30).status_code == 403  # fmt: skip
    assert requests.post(f"{stack.url}/api/letters/{letter_id}/print", headers=staff.headers(),
                         timeout=30).status_code == 403  # fmt: skip

    # the mail room: listed with the address on file, printed once, posted
    queue = requests.get(stack.url + "/api/letters", headers=admin.headers(), timeout=30).json()
    [listed] = [entry for entry in queue if entry["letter_id"] == letter_id]
    assert listed["stage"] == "waiting" and listed["address_lines"] == [
        "165 Capitol Avenue", "Hartford, CT 06106",
    ]  # fmt: skip
    early = requests.post(f"{stack.url}/api/letters/{letter_id}/posted", headers=admin.headers(),
                          timeout=30)  # fmt: skip
    assert early.status_code == 409, early.text
    printed = requests.post(f"{stack.url}/api/letters/{letter_id}/print",
                            headers=admin.headers(), timeout=30)  # fmt: skip
    assert printed.status_code == 200 and printed.headers["Content-Type"] == "application/pdf"
    again = requests.post(f"{stack.url}/api/letters/{letter_id}/print", headers=admin.headers(),
                          timeout=30)  # fmt: skip
    assert again.status_code == 409, again.text
    posted = requests.post(f"{stack.url}/api/letters/{letter_id}/posted",
                           headers=admin.headers(), timeout=30)  # fmt: skip
    assert posted.status_code == 200, posted.text
    queue = requests.get(stack.url + "/api/letters", headers=admin.headers(), timeout=30).json()
    assert letter_id not in {entry["letter_id"] for entry in queue}

    # the letter works, for its addressee
    victim.password = letter_password(printed.content, tmp_path)
    assert sign_in(stack, victim)["stage"] == "change_password"

    # every step is on the account's stream, naming who did it; no password in any event
    history = account_history(stack, admin, victim.account_id)
    by_type: dict[str, dict] = {}
    for event in history:  # newest first: the newest of each type
        by_type.setdefault(event["type"], event)
    issued = by_type["TemporaryPasswordIssued"]
    assert (issued["actor_role"], issued["details"]["delivery"]) == ("helpdesk", "post")
    assert issued["details"]["reason"].startswith("Help desk ticket T-")
    for kind, who in (("CredentialLetterQueued", staff), ("CredentialLetterPrinted", admin),
                      ("CredentialLetterPosted", admin)):  # fmt: skip
        assert by_type[kind]["actor_id"] == who.account_id
        assert by_type[kind]["details"]["letter_id"] == letter_id
    trail = requests.get(stack.url + "/api/audit/history", headers=admin.headers(), timeout=30,
                         params={"source": "identity", "order": "newest"})  # fmt: skip
    assert trail.status_code == 200 and victim.password not in trail.text


def test_resetting_an_administrator_needs_a_second_administrator(stack, users, tmp_path):
    from tests.helpers.accounts import letter_password

    first = users[str(Role.ADMINISTRATOR)]
    second = fresh(stack, users, "administrator", tmp_path)
    victim = fresh(stack, users, "administrator", tmp_path)

    def post(user: User, path: str, **body):
        return requests.post(stack.url + path, headers=user.headers(), json=body, timeout=30)

    asked = post(first, f"/api/accounts/{victim.account_id}/temporary-password", reason="lost it")
    assert asked.status_code == 202 and asked.json()["outcome"] == "awaiting_approval", asked.text
    request_id = asked.json()["request_id"]
    signed_in = stack.post(
        "/api/sessions", json={"email": victim.email, "password": victim.password}
    )
    assert signed_in.status_code == 201, "nothing changed yet"
    pending = requests.get(stack.url + "/api/credential-requests", headers=second.headers(),
                           timeout=30).json()  # fmt: skip
    assert request_id in {r["request_id"] for r in pending}
    decide = f"/api/accounts/{victim.account_id}/credential-requests/{request_id}"
    own = post(first, f"{decide}/approve")
    assert own.status_code == 403 and "second administrator" in own.text, own.text
    assert post(victim, f"{decide}/approve").status_code == 403  # nobody decides their own
    approved = post(second, f"{decide}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["outcome"] == "in_hand"
    pdf = base64.b64decode(approved.json()["credential_letter_pdf"])
    assert post(second, f"{decide}/approve").status_code == 409  # decided once
    old = stack.post("/api/sessions", json={"email": victim.email, "password": victim.password})
    assert old.status_code == 401
    new = letter_password(pdf, tmp_path)
    assert (
        stack.post("/api/sessions", json={"email": victim.email, "password": new}).status_code
        == 201
    )

    # an authenticator reset: declined, then asked again and approved
    for decision in ("decline", "approve"):
        asked = post(first, f"/api/accounts/{victim.account_id}/reset-mfa", reason="lost phone")
        assert asked.status_code == 202, asked.text
        decide = (
            f"/api/accounts/{victim.account_id}/credential-requests/{asked.json()['request_id']}"
        )
        done = post(second, f"{decide}/{decision}", reason="call them first")
        assert done.status_code == 200, done.text
        details = requests.get(f"{stack.url}/api/accounts/{victim.account_id}",
                               headers=first.headers(), timeout=30).json()  # fmt: skip
        assert details["mfa_enrolled"] is (decision == "decline")
    kinds = [e["type"] for e in details["history"]]
    for kind in ("CredentialResetRequested", "CredentialResetApproved", "CredentialResetDeclined"):
        assert kind in kinds
    approval = next(e for e in details["history"] if e["type"] == "CredentialResetApproved")
    assert approval["actor_id"] == second.account_id
    assert approval["details"]["requested_by"] == first.account_id


def test_nobody_resets_their_own_account(stack, users):
    admin, staff = users[str(Role.ADMINISTRATOR)], users[str(Role.HELPDESK)]
    for user, ticket_id in ((admin, None), (staff, open_access_ticket(stack, staff))):
        for action in RESET_ACTIONS:
            refused = attempt_reset(stack, user, user, action, ticket_id)
            assert refused.status_code == 403 and "own account" in refused.text, refused.text
        assert stack.get("/api/session", headers=user.headers()).status_code == 200


def test_a_registrants_letter_goes_to_the_address_on_their_registration(stack, users):
    """The mail room asks the registration service for the address on file; an applicant
    with none is listed so, and their letter cannot be printed."""
    from tests.helpers.accounts import sign_up
    from tests.helpers.registration import registered

    staff, admin = users[str(Role.HELPDESK)], users[str(Role.ADMINISTRATOR)]
    pharmacist = registered(stack, admin, "pharmacist", address_line1="9 Harbor Road")
    applicant = sign_up(stack)
    letters = {}
    for user in (pharmacist, applicant):
        ticket_id = open_access_ticket(stack, user)
        done = requests.post(
            f"{stack.url}/api/tickets/{ticket_id}/temporary-password", headers=staff.headers(),
            json={"reason": "caller verified"}, timeout=30,
        )  # fmt: skip
        assert done.status_code == 202, done.text
        letters[user.account_id] = done.json()["letter_id"]
    queue = requests.get(stack.url + "/api/letters", headers=admin.headers(), timeout=30).json()
    listed = {entry["letter_id"]: entry for entry in queue}
    assert listed[letters[pharmacist.account_id]]["address_lines"] == [
        "9 Harbor Road", "New Haven, CT 06510",
    ]  # fmt: skip
    assert listed[letters[applicant.account_id]]["address_lines"] is None
    refused = requests.post(f"{stack.url}/api/letters/{letters[applicant.account_id]}/print",
                            headers=admin.headers(), timeout=30)  # fmt: skip
    assert refused.status_code == 409 and "no postal address" in refused.text, refused.text
    page = requests.get(stack.url + "/admin/letters", cookies=admin.cookies(), timeout=30)
    assert "No postal address on file" in page.text and "9 Harbor Road" in page.text
