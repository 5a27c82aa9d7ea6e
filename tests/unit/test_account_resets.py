"""The account's side of credential resets: which letter's password is in force, and a
reset of an administrator waiting for a second administrator (pure, against a moved clock)."""

from __future__ import annotations

import uuid

import pytest

from services.identity.domain import AccountStateConflict
from tests.unit.test_account import HASHER, PASSWORD, Subject


def post_letter(you: Subject, password: str = "Zq8-Letter-Pw#2") -> str:
    letter_id = str(uuid.uuid4())
    changes = you.record(
        you.account.issue_temporary_password(
            password, you.clock(), you.policy, HASHER, "forgot it", letter_id, "post"
        )
    )
    assert [kind for kind, _ in changes][:2] == [
        "TemporaryPasswordIssued",
        "CredentialLetterQueued",
    ]
    assert password not in str(changes)
    return letter_id


def test_only_the_newest_unused_unexpired_letter_is_in_force():
    you = Subject()
    first = post_letter(you)
    assert you.account.letter_in_force(first, you.clock())
    second = post_letter(you, "Other-Letter-Pw#3")
    assert not you.account.letter_in_force(first, you.clock())  # replaced
    assert you.account.letter_in_force(second, you.clock())
    you.clock.advance(days=15)
    assert not you.account.letter_in_force(second, you.clock())  # expired


def test_a_letter_is_out_of_force_once_used():
    you = Subject()
    letter = post_letter(you, "Used-Letter-Pw#4")
    assert you.sign_in("Used-Letter-Pw#4")
    assert not you.account.letter_in_force(letter, you.clock())


def test_a_letter_handed_over_is_not_queued_for_the_post():
    you = Subject()
    changes = you.account.issue_temporary_password(
        PASSWORD, you.clock(), you.policy, HASHER, "staff", str(uuid.uuid4()), "in_hand"
    )
    assert "CredentialLetterQueued" not in [kind for kind, _ in changes]


def test_a_request_for_a_second_administrator_waits_then_lapses():
    you = Subject(role="administrator")
    request_id = str(uuid.uuid4())
    you.record(you.account.ask_second_administrator(
        request_id, "temporary_password", "lost it", "someone", you.clock(), 24))  # fmt: skip
    assert you.account.pending_reset(request_id, you.clock())["requested_by"] == "someone"
    you.clock.advance(hours=24)
    with pytest.raises(AccountStateConflict, match="lapsed"):
        you.account.pending_reset(request_id, you.clock())


def test_a_decided_request_is_decided_once():
    you = Subject(role="administrator")
    request_id = str(uuid.uuid4())
    you.record(you.account.ask_second_administrator(
        request_id, "reset_mfa", "lost phone", "someone", you.clock(), 24))  # fmt: skip
    decided = {"request_id": request_id, "action": "reset_mfa", "requested_by": "someone",
               "reason": ""}  # fmt: skip
    you.record([("CredentialResetDeclined", decided)])
    with pytest.raises(AccountStateConflict, match="no such request"):
        you.account.pending_reset(request_id, you.clock())
