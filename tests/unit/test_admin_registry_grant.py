"""The administrator's page for one user: the control that grants or withdraws the medical
marijuana registry, offered only where identity would accept it."""

from __future__ import annotations

import pytest

from gateway.pages.admin import AdminPages, available_actions, registry_access
from services.identity.roles import Permission, permissions_of

MM = str(Permission.MM_REGISTRY_VERIFY)
ADMIN = [str(p) for p in permissions_of("administrator")]
HELPDESK = [str(p) for p in permissions_of("helpdesk")]


def account(status="active", granted=(), grantable=(MM,)) -> dict:
    return {
        "account_id": "the-user", "role": "prescriber",
        "status": status, "locked": False, "failed_attempts": 0, "mfa_enrolled": False,
        "granted_permissions": list(granted), "grantable_permissions": list(grantable),
    }  # fmt: skip


def registry_actions(found: dict, permissions=ADMIN) -> list[str]:
    role = "administrator" if permissions is ADMIN else "helpdesk"
    principal = {"account_id": "the-viewer", "role": role, "permissions": permissions}
    return [a for a in available_actions(found, principal) if a.startswith("registry-")]


@pytest.mark.parametrize("status", ["active", "suspended"])
def test_a_prescriber_or_pharmacist_without_the_registry_may_be_granted_it(status):
    found = account(status)
    assert registry_actions(found) == ["registry-grant"]
    assert registry_access(found) == {"granted": False, "in_force": False}


def test_one_who_has_it_may_have_it_withdrawn_and_not_granted_again():
    found = account(granted=[MM])
    assert registry_actions(found) == ["registry-withdraw"]
    assert registry_access(found) == {"granted": True, "in_force": True}


def test_a_grant_the_role_no_longer_allows_is_shown_not_in_force_and_may_be_withdrawn():
    found = account(granted=[MM], grantable=())
    assert registry_actions(found) == ["registry-withdraw"]
    assert registry_access(found) == {"granted": True, "in_force": False}


def test_other_roles_see_nothing_of_the_registry():
    found = account(grantable=())
    assert registry_actions(found) == []
    assert registry_access(found) is None


@pytest.mark.parametrize("status", ["revoked", "removed"])
def test_a_closed_account_is_not_granted_the_registry(status):
    assert registry_actions(account(status)) == []


def test_only_those_who_change_roles_grant_or_withdraw():
    assert registry_actions(account(), HELPDESK) == []
    assert registry_actions(account(granted=[MM]), HELPDESK) == []


def test_the_history_names_the_permission():
    event = {
        "type": "PermissionGranted", "occurred_at": "2026-12-01T10:00:00+00:00",
        "actor_id": "a" * 36, "actor_role": "administrator",
        "details": {"permission": MM, "reason": "clinic verifies cards"},
    }  # fmt: skip
    row = AdminPages._history_row(event, "b" * 36)
    assert row["what"] == "Permission granted"
    assert row["details"] == "medical marijuana registry (card verification)"
    assert row["reason"] == "clinic verifies cards"
