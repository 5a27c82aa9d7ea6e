"""The reset table: who may give whose account a temporary password, unlock it or reset its
authenticator (``services/identity/resets.py``)."""

from __future__ import annotations

import pytest

from services.identity.resets import (
    REGISTRANT_ROLES,
    STAFF_ROLES,
    CredentialAction,
    Ruling,
    delivery,
    may_decide_request,
    refusal,
    ruling,
    ticket_problem,
)
from services.identity.roles import Role

ACTIONS = list(CredentialAction)
ROLES = list(Role)


def test_every_role_is_a_registrant_or_staff_and_never_both():
    assert set(Role) == REGISTRANT_ROLES | STAFF_ROLES
    assert not REGISTRANT_ROLES & STAFF_ROLES


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("target", ROLES)
def test_the_help_desk_acts_on_registrants_only_and_only_from_a_ticket(target, action):
    expected = Ruling.NEEDS_TICKET if target in REGISTRANT_ROLES else Ruling.REFUSED
    assert ruling(Role.HELPDESK, target, action, own=False) is expected


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("target", ROLES)
def test_an_administrator_needs_a_second_one_only_to_hand_over_an_administrators_account(
    target, action
):
    handing_over = target == Role.ADMINISTRATOR and action != CredentialAction.UNLOCK
    expected = Ruling.NEEDS_APPROVAL if handing_over else Ruling.ALLOWED
    assert ruling(Role.ADMINISTRATOR, target, action, own=False) is expected


@pytest.mark.parametrize(
    "actor", [r for r in ROLES if r not in {Role.HELPDESK, Role.ADMINISTRATOR}]
)
@pytest.mark.parametrize("target", ROLES)
def test_nobody_else_resets_anybody(actor, target):
    assert {ruling(actor, target, a, own=False) for a in ACTIONS} == {Ruling.REFUSED}


@pytest.mark.parametrize("actor", ROLES)
def test_nobody_resets_their_own_account_this_way(actor):
    assert {ruling(actor, actor, a, own=True) for a in ACTIONS} == {Ruling.REFUSED}
    assert "own account" in refusal(actor, actor, "unlock", own=True)


def test_unknown_roles_and_actions_are_refused():
    assert ruling(Role.ADMINISTRATOR, "owner", "unlock", own=False) is Ruling.REFUSED
    assert ruling(Role.ADMINISTRATOR, Role.PRESCRIBER, "delete", own=False) is Ruling.REFUSED
    assert ruling(None, Role.PRESCRIBER, "unlock", own=False) is Ruling.REFUSED


def test_registrants_letters_go_by_post_staff_letters_in_hand():
    assert {delivery(r) for r in REGISTRANT_ROLES} == {"post"}
    assert {delivery(r) for r in STAFF_ROLES} == {"in_hand"}


TICKET = {"reference": "T-1", "status": "open", "access_problem": "locked", "account_id": "a"}


@pytest.mark.parametrize(
    ("ticket", "problem"),
    [
        (None, "no such help desk ticket"),
        ({**TICKET, "status": "resolved"}, "is resolved"),
        ({**TICKET, "status": "closed"}, "is closed"),
        ({**TICKET, "access_problem": None}, "not about signing in"),
        ({**TICKET, "account_id": "b"}, "not about this account"),
        ({**TICKET, "account_id": None}, "not about this account"),
    ],
)
def test_only_an_open_access_ticket_of_the_same_account_will_do(ticket, problem):
    assert problem in ticket_problem(ticket, "a")


def test_an_open_or_escalated_access_ticket_of_the_account_will_do():
    assert ticket_problem(TICKET, "a") is None
    assert ticket_problem({**TICKET, "status": "escalated"}, "a") is None


def test_the_administrator_who_asked_may_withdraw_but_not_approve():
    assert may_decide_request(Role.ADMINISTRATOR, "x", "x", "t", approve=True)
    assert may_decide_request(Role.ADMINISTRATOR, "x", "x", "t", approve=False) is None
    assert may_decide_request(Role.ADMINISTRATOR, "y", "x", "t", approve=True) is None
    assert may_decide_request(Role.ADMINISTRATOR, "t", "x", "t", approve=True)
    assert may_decide_request(Role.HELPDESK, "y", "x", "t", approve=True)
