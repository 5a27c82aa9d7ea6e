"""The permission table: deny by default, and each role gets exactly its job's permissions."""

from __future__ import annotations

import pytest

from services.identity.roles import GRANTS, ROLE_TITLES, Permission, Role, allows, permissions_of

CLINICAL = {Permission.PATIENT_SEARCH, Permission.REPORT_VIEW, Permission.ALERT_ACKNOWLEDGE}
ACCOUNT_ADMINISTRATION = {
    Permission.USER_CREATE,
    Permission.USER_SUSPEND,
    Permission.USER_REVOKE,
    Permission.USER_ROLE_CHANGE,
}


@pytest.mark.parametrize("role", [None, "", "root", "Administrator", "admin", " prescriber"])
def test_a_missing_or_unknown_role_may_do_nothing(role):
    assert permissions_of(role) == frozenset()
    assert not any(allows(role, permission) for permission in Permission)


def test_every_role_has_a_title_and_an_entry_in_the_table():
    assert set(GRANTS) == set(Role) == set(ROLE_TITLES)
    assert all(ROLE_TITLES[role] for role in Role)


def test_every_permission_is_granted_to_at_least_one_role():
    granted = set().union(*GRANTS.values())
    assert granted == set(Permission)


def test_every_role_may_look_after_its_own_account():
    assert all(allows(str(role), Permission.ACCOUNT_SELF) for role in Role)


def test_the_medical_marijuana_officer_only_verifies_registry_cards():
    role = str(Role.LAW_ENFORCEMENT_MM)
    assert not allows(role, Permission.PATIENT_SEARCH)
    assert not allows(role, Permission.REPORT_VIEW)
    assert not allows(role, Permission.ALERT_ACKNOWLEDGE)
    assert permissions_of(role) == {
        Permission.ACCOUNT_SELF,
        Permission.REGISTRATION_APPLY,
        Permission.MM_REGISTRY_VERIFY,
    }


def test_law_enforcement_may_search_and_read_reports_but_not_acknowledge_alerts():
    role = str(Role.LAW_ENFORCEMENT)
    assert allows(role, Permission.PATIENT_SEARCH) and allows(role, Permission.REPORT_VIEW)
    assert allows(role, Permission.MM_REGISTRY_VERIFY)
    assert not allows(role, Permission.ALERT_ACKNOWLEDGE)


@pytest.mark.parametrize("role", [Role.PRESCRIBER, Role.PHARMACIST, Role.DELEGATE])
def test_clinical_roles_see_patients_and_nothing_of_administration(role):
    own = {Permission.ACCOUNT_SELF, Permission.REGISTRATION_APPLY}
    supervise = {Permission.DELEGATE_SUPERVISE} if role != Role.DELEGATE else set()
    assert permissions_of(str(role)) == {*own, *CLINICAL, *supervise}


def test_an_applicant_may_only_look_after_their_account_and_application():
    assert permissions_of(str(Role.APPLICANT)) == {
        Permission.ACCOUNT_SELF,
        Permission.REGISTRATION_APPLY,
    }


def test_only_prescribers_and_pharmacists_supervise_delegates():
    holders = {role for role in Role if allows(str(role), Permission.DELEGATE_SUPERVISE)}
    assert holders == {Role.PRESCRIBER, Role.PHARMACIST}


def test_registering_is_for_the_roles_people_apply_for_not_for_staff():
    holders = {role for role in Role if allows(str(role), Permission.REGISTRATION_APPLY)}
    staff = {Role.ADMINISTRATOR, Role.HELPDESK, Role.AUDITOR, Role.DATA_SUBMITTER}
    assert holders == set(Role) - staff


def test_data_submitters_send_files_and_see_no_patient_or_account_data():
    assert permissions_of(str(Role.DATA_SUBMITTER)) == {
        Permission.ACCOUNT_SELF,
        Permission.SUBMISSION_UPLOAD,
    }


def test_only_administrators_create_suspend_revoke_and_change_roles():
    for permission in ACCOUNT_ADMINISTRATION | {Permission.POLICY_MANAGE}:
        holders = {role for role in Role if allows(str(role), permission)}
        assert holders == {Role.ADMINISTRATOR}, permission


def test_administrators_and_help_desk_never_see_patient_data():
    for role in (Role.ADMINISTRATOR, Role.HELPDESK, Role.AUDITOR):
        assert not permissions_of(str(role)) & CLINICAL, role
        assert not allows(str(role), Permission.MM_REGISTRY_VERIFY)


def test_the_help_desk_unlocks_and_reissues_passwords_but_cannot_suspend_or_create():
    role = str(Role.HELPDESK)
    assert permissions_of(role) == {
        Permission.ACCOUNT_SELF,
        Permission.USER_VIEW,
        Permission.USER_UNLOCK,
        Permission.USER_TEMPORARY_PASSWORD,
        Permission.TICKET_MANAGE,
    }


def test_auditors_read_the_audit_trail_and_change_nothing():
    assert permissions_of(str(Role.AUDITOR)) == {Permission.ACCOUNT_SELF, Permission.AUDIT_READ}


def test_only_administrators_and_auditors_read_the_audit_trail():
    holders = {role for role in Role if allows(str(role), Permission.AUDIT_READ)}
    assert holders == {Role.ADMINISTRATOR, Role.AUDITOR}


def test_user_view_is_limited_to_the_people_who_manage_accounts():
    holders = {role for role in Role if allows(str(role), Permission.USER_VIEW)}
    assert holders == {Role.ADMINISTRATOR, Role.HELPDESK}


def test_a_granted_permission_passes_only_for_a_role_it_may_be_granted_to():
    from services.identity.roles import NotAuthorized, require_granted

    mm = Permission.MM_REGISTRY_VERIFY
    require_granted("prescriber", {str(mm)}, mm)  # granted by an administrator
    require_granted("law_enforcement_mm", {str(mm)}, mm)  # by the role
    with pytest.raises(NotAuthorized):
        require_granted("prescriber", {"account.self"}, mm)  # not granted
    with pytest.raises(NotAuthorized):
        require_granted("prescriber", None, mm)  # not through the gateway: the role alone
    with pytest.raises(NotAuthorized):
        require_granted("delegate", {str(mm)}, mm)  # a role it is never granted to
    with pytest.raises(NotAuthorized):
        require_granted("pharmacist", {"user.view"}, Permission.USER_VIEW)
