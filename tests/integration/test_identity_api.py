"""Signing in, the sign-in steps, the user's own account, password resets and administrators'
actions, all through the JSON API of a running stack."""

from __future__ import annotations

import base64
import re
import time

import pyotp
import pytest

from services.identity.roles import Permission, Role
from tests.helpers.accounts import (
    NEW_PASSWORD,
    User,
    api,
    change_password,
    create_user,
    enrol_mfa,
    every_role,
    letter_password,
    ready,
    sign_in,
)

SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
REASON = {"reason": "ticket 1234"}


@pytest.fixture(scope="session")
def users(stack, tmp_path_factory) -> dict[str, User]:
    return every_role(stack, tmp_path_factory.mktemp("letters"))


@pytest.fixture
def admin(users) -> User:
    return users[str(Role.ADMINISTRATOR)]


def comparable(response) -> dict:
    """A problem body without what differs on every request."""
    return {k: v for k, v in response.json().items() if k != "correlation_id"}


def start_sign_in(stack, user: User) -> dict:
    response = stack.post("/api/sessions", json={"email": user.email, "password": user.password})
    assert response.status_code == 201, response.text
    user.token = response.json()["token"]
    return response.json()["principal"]


def pass_mfa_with(stack, user: User, code: str):
    return stack.post("/api/session/mfa", json={"code": code}, headers=user.headers())


def next_step_code(user: User) -> str:
    """The code an authenticator whose clock runs a little ahead shows: the next 30-second
    step's (accepted for clock drift), so it was not used by the enrolment just now."""
    assert user.totp_secret
    return pyotp.TOTP(user.totp_secret).at(time.time() + 30)


def sign_out(stack, user: User) -> None:
    response = api(stack, "DELETE", "/api/session", user)
    assert response.status_code == 204, response.text
    assert api(stack, "GET", "/api/session", user).status_code == 401


def wait_for_status(stack, user: User, path: str, status: int, timeout: float = 10) -> None:
    """Poll until ``path`` answers ``status`` to ``user`` (the gateway caches principals for
    a few seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        got = api(stack, "GET", path, user).status_code
        if got == status:
            return
        assert time.monotonic() < deadline, f"{path} still answers {got}, not {status}"
        time.sleep(0.2)


def refused_sign_in(stack, email: str, password: str):
    response = stack.post("/api/sessions", json={"email": email, "password": password})
    assert response.status_code == 401, response.text
    return response


def test_the_journey_of_a_new_user_from_letter_to_mfa_and_recovery_codes(stack, admin, tmp_path):
    # The auditor role requires an authenticator, so every step of a first sign-in is taken.
    user = create_user(stack, admin, str(Role.AUDITOR), tmp_path)
    principal = start_sign_in(stack, user)
    assert principal["stage"] == "change_password"
    assert principal["permissions"] == []
    refused = api(stack, "GET", "/api/accounts", user)
    assert refused.status_code == 403 and refused.json()["stage"] == "change_password"

    weak = api(
        stack,
        "POST",
        "/api/me/password",
        user,
        json={"current_password": user.password, "new_password": "abc"},
    )
    assert weak.status_code == 422, weak.text
    detail = weak.json()["detail"]
    for rule in ("at least", "upper-case", "digit", "symbol", "too common"):
        assert rule in detail, (rule, detail)

    old_token = user.token
    principal = change_password(stack, user)
    assert principal["stage"] == "enrol_mfa"
    assert api(stack, "GET", "/api/session", User("", "", "", "", old_token)).status_code == 401

    principal = enrol_mfa(stack, user)
    assert principal["stage"] == "ready" and principal["mfa_enrolled"]
    assert Permission.AUDIT_READ in principal["permissions"]
    assert len(user.recovery_codes) >= 2

    sign_out(stack, user)
    assert start_sign_in(stack, user)["stage"] == "mfa"
    assert api(stack, "GET", "/api/accounts", user).status_code == 403
    passed = pass_mfa_with(stack, user, next_step_code(user))
    assert passed.status_code == 200, passed.text
    assert passed.json()["stage"] == "ready"

    sign_out(stack, user)
    first_code, second_code = user.recovery_codes[:2]
    assert start_sign_in(stack, user)["stage"] == "mfa"
    assert pass_mfa_with(stack, user, first_code).json()["stage"] == "ready"

    sign_out(stack, user)
    assert start_sign_in(stack, user)["stage"] == "mfa"
    assert pass_mfa_with(stack, user, first_code).status_code == 422  # once only
    assert pass_mfa_with(stack, user, second_code).json()["stage"] == "ready"
    assert api(stack, "GET", "/api/session", user).json()["stage"] == "ready"


@SQLITE
def test_a_bad_request_body_is_a_422_naming_each_bad_field(stack):
    response = stack.post("/api/sessions", json={"email": "", "pasword": "x"})
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert set(response.json()["errors"]) == {"email", "password", "pasword"}
    not_json = stack.post("/api/sessions", data="{", headers={"Content-Type": "text/plain"})
    assert not_json.status_code == 400


@SQLITE
def test_sign_in_refusals_look_the_same_for_an_unknown_address(stack, users):
    user = users[str(Role.PHARMACIST)]
    wrong = refused_sign_in(stack, user.email, "Not-The-Password-1!")
    unknown = refused_sign_in(stack, "nobody@example.org", "Not-The-Password-1!")
    assert comparable(wrong) == comparable(unknown)


@SQLITE
def test_four_wrong_passwords_lock_the_account_until_an_administrator_unlocks_it(
    stack, admin, tmp_path
):
    user = ready(stack, create_user(stack, admin, str(Role.PRESCRIBER), tmp_path))
    wrong = [refused_sign_in(stack, user.email, "Wrong-Password-99!") for _ in range(4)]
    right = refused_sign_in(stack, user.email, user.password)
    assert comparable(right) == comparable(wrong[0])

    details = api(stack, "GET", f"/api/accounts/{user.account_id}", admin).json()
    assert details["locked"] and details["failed_attempts"] == 4

    unlocked = api(stack, "POST", f"/api/accounts/{user.account_id}/unlock", admin, json=REASON)
    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json()["account_id"] == user.account_id
    assert unlocked.json()["outcome"] == "done"
    assert sign_in(stack, user)["stage"] == "ready"
    again = api(stack, "POST", f"/api/accounts/{user.account_id}/unlock", admin, json=REASON)
    assert again.status_code == 409  # not locked any more


@SQLITE
def test_suspending_ends_the_users_session_and_reinstating_lets_them_back(stack, admin, tmp_path):
    user = ready(stack, create_user(stack, admin, str(Role.PHARMACIST), tmp_path))
    assert api(stack, "GET", "/api/session", user).status_code == 200
    path = f"/api/accounts/{user.account_id}"
    assert api(stack, "POST", path + "/suspend", admin, json=REASON).status_code == 200
    wait_for_status(stack, user, "/api/session", 401)
    refused_sign_in(stack, user.email, user.password)
    assert api(stack, "GET", path, admin).json()["status"] == "suspended"
    assert api(stack, "POST", path + "/suspend", admin, json=REASON).status_code == 409

    assert api(stack, "POST", path + "/reinstate", admin, json=REASON).status_code == 200
    assert sign_in(stack, user)["stage"] == "ready"


@SQLITE
def test_a_revoked_account_cannot_sign_in_or_come_back(stack, admin, tmp_path):
    user = ready(stack, create_user(stack, admin, str(Role.DELEGATE), tmp_path))
    path = f"/api/accounts/{user.account_id}"
    assert api(stack, "POST", path + "/revoke", admin, json=REASON).status_code == 200
    wait_for_status(stack, user, "/api/session", 401)
    refused_sign_in(stack, user.email, user.password)
    assert api(stack, "POST", path + "/reinstate", admin, json=REASON).status_code == 409
    assert api(stack, "GET", path, admin).json()["status"] == "revoked"
    history = [event["type"] for event in api(stack, "GET", path, admin).json()["history"]]
    assert "AccountRevoked" in history


@SQLITE
def test_administrators_cannot_act_on_their_own_account(stack, admin):
    response = api(stack, "POST", f"/api/accounts/{admin.account_id}/suspend", admin, json=REASON)
    assert response.status_code == 403


@SQLITE
def test_changing_the_role_changes_what_the_user_may_do(stack, admin, tmp_path):
    user = ready(stack, create_user(stack, admin, str(Role.PRESCRIBER), tmp_path))
    assert api(stack, "GET", "/api/accounts", user).status_code == 403
    changed = api(
        stack,
        "POST",
        f"/api/accounts/{user.account_id}/role",
        admin,
        json={"role": str(Role.HELPDESK), **REASON},
    )
    assert changed.status_code == 200, changed.text
    wait_for_status(stack, user, "/api/session", 401)  # a new role means a new sign-in
    principal = sign_in(stack, user)
    assert principal["role"] == "helpdesk"
    assert Permission.USER_VIEW in principal["permissions"]
    assert Permission.PATIENT_SEARCH not in principal["permissions"]
    assert api(stack, "GET", "/api/accounts", user).status_code == 200
    no_such_role = api(
        stack,
        "POST",
        f"/api/accounts/{user.account_id}/role",
        admin,
        json={"role": "overlord", **REASON},
    )
    assert no_such_role.status_code == 422 and "role" in no_such_role.json()["errors"]


@SQLITE
def test_a_new_temporary_password_letter_replaces_the_password(stack, admin, tmp_path):
    """A registrant's letter goes to the mail room, which prints it (once) for the post."""
    user = ready(stack, create_user(stack, admin, str(Role.LAW_ENFORCEMENT), tmp_path))
    issued = api(
        stack, "POST", f"/api/accounts/{user.account_id}/temporary-password", admin, json=REASON
    )
    assert issued.status_code == 202, issued.text
    assert issued.json()["account_id"] == user.account_id
    assert issued.json()["outcome"] == "queued" and issued.json()["credential_letter_pdf"] is None
    printed = api(stack, "POST", f"/api/letters/{issued.json()['letter_id']}/print", admin)
    assert printed.status_code == 200, printed.text
    temporary = letter_password(printed.content, tmp_path)
    wait_for_status(stack, user, "/api/session", 401)
    refused_sign_in(stack, user.email, user.password)
    user.password = temporary
    assert sign_in(stack, user)["stage"] == "change_password"
    assert change_password(stack, user, "Quartz-Harbor-Violet-83?")["stage"] == "ready"


@SQLITE
def test_a_staff_members_letter_is_handed_to_the_administrator(stack, admin, tmp_path):
    """Staff have no address with the program: the administrator gets the letter to hand over."""
    user = ready(stack, create_user(stack, admin, str(Role.HELPDESK), tmp_path))
    issued = api(
        stack, "POST", f"/api/accounts/{user.account_id}/temporary-password", admin, json=REASON
    )
    assert issued.status_code == 200 and issued.json()["outcome"] == "in_hand", issued.text
    temporary = letter_password(base64.b64decode(issued.json()["credential_letter_pdf"]), tmp_path)
    wait_for_status(stack, user, "/api/session", 401)
    user.password = temporary
    assert sign_in(stack, user)["stage"] == "change_password"


@SQLITE
def test_listing_and_reading_accounts(stack, users, admin):
    helpdesk = users[str(Role.HELPDESK)]
    pharmacist = users[str(Role.PHARMACIST)]
    found = api(stack, "GET", "/api/accounts", helpdesk, params={"q": pharmacist.email})
    assert found.status_code == 200, found.text
    assert [a["account_id"] for a in found.json()["accounts"]] == [pharmacist.account_id]
    by_role = api(stack, "GET", "/api/accounts", admin, params={"role": "auditor"}).json()
    assert by_role["total"] >= 1
    assert {a["role"] for a in by_role["accounts"]} == {"auditor"}
    bad = api(stack, "GET", "/api/accounts", admin, params={"page": "zero", "status": "x"})
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"page", "status"}

    details = api(stack, "GET", f"/api/accounts/{pharmacist.account_id}", admin).json()
    assert details["email"] == pharmacist.email and details["status"] == "active"
    assert details["history"][-1]["type"] == "AccountCreated"
    missing = api(stack, "GET", "/api/accounts/00000000-0000-4000-8000-000000000000", admin)
    assert missing.status_code == 404
    assert api(stack, "GET", "/api/accounts/not-a-uuid", admin).status_code == 404

    taken = api(
        stack,
        "POST",
        "/api/accounts",
        admin,
        json={
            "email": pharmacist.email,
            "first_name": "Pat",
            "last_name": "Again",
            "role": "pharmacist",
            "address_lines": ["1 Main St"],
        },
    )
    assert taken.status_code == 409


@SQLITE
def test_a_ready_user_may_change_their_password_and_gets_a_new_token(stack, admin, tmp_path):
    user = ready(stack, create_user(stack, admin, str(Role.PHARMACIST), tmp_path))
    old = user.token
    principal = change_password(stack, user, "Walnut-Glacier-Tiger-62#")
    assert principal["stage"] == "ready"
    assert api(stack, "GET", "/api/session", User("", "", "", "", old)).status_code == 401
    assert api(stack, "GET", "/api/session", user).status_code == 200
    wrong_current = api(
        stack,
        "POST",
        "/api/me/password",
        user,
        json={"current_password": "not it", "new_password": "Another-Fine-Pass-71!"},
    )
    assert wrong_current.status_code == 422


@SQLITE
def test_password_reset_by_email_and_security_questions(stack, admin, tmp_path):
    user = ready(stack, create_user(stack, admin, str(Role.PRESCRIBER), tmp_path))
    questions = stack.get("/api/security-questions").json()["questions"]
    assert len(questions) >= 3
    chosen, answers = questions[:3], ["Rex", "New Haven", "Bunny"]
    saved = api(
        stack,
        "PUT",
        "/api/me/security-questions",
        user,
        json={"questions": chosen, "answers": answers},
    )
    assert saved.status_code == 204, saved.text
    short = api(
        stack,
        "PUT",
        "/api/me/security-questions",
        user,
        json={"questions": chosen[:2], "answers": answers},
    )
    assert short.status_code == 422 and "questions" in short.json()["errors"]

    known = stack.post("/api/password-resets", json={"email": user.email})
    unknown = stack.post("/api/password-resets", json={"email": "nobody-here@example.org"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()

    mail = stack.mail.wait_for(lambda m: user.email in m.envelope_to)
    link = re.search(r"/password/reset/(\S+)", mail.text).group(1)
    asked = stack.get(f"/api/password-resets/{link}")
    assert asked.status_code == 200 and asked.json()["questions"] == chosen

    new = "Copper-Meadow-Falcon-58!"
    wrong = stack.post(
        f"/api/password-resets/{link}", json={"answers": ["a", "b", "c"], "new_password": new}
    )
    assert wrong.status_code == 422
    refused_sign_in(stack, user.email, new)

    right = stack.post(
        f"/api/password-resets/{link}",
        json={"answers": ["rex", "new haven", "bunny"], "new_password": new},
    )
    assert right.status_code == 204, right.text
    wait_for_status(stack, user, "/api/session", 401)  # every session ended
    refused_sign_in(stack, user.email, NEW_PASSWORD)
    user.password = new
    assert sign_in(stack, user)["stage"] == "ready"
    used = stack.post(
        f"/api/password-resets/{link}", json={"answers": answers, "new_password": new}
    )
    assert used.status_code == 422
    assert stack.get(f"/api/password-resets/{link}").status_code == 422
    assert stack.get("/api/password-resets/not-a-link").status_code == 422
