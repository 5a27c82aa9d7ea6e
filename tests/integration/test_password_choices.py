"""Passwords that pass the composition rules but are the first an attacker tries are refused
through the gateway, on sign-up and on a change, each with the reason in words."""

from __future__ import annotations

import html
import re
import uuid

import pytest

from tests.helpers.accounts import api, create_user, ready, sign_up_link

SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)

#: Each was accepted before: the password, and words of the reason the user must be told.
GUESSABLE = [
    ("Spring2026!", "a season or month and a year"),
    ("Cpmrs2026!", "the program's name"),
    ("1qaz@WSX3edc", "keyboard pattern"),
    ("Heron-Marsh-Lantern-47!", "the example password"),
]


@SQLITE
def test_guessable_passwords_are_refused_with_the_reason(stack, people, tmp_path):
    user = ready(
        stack,
        create_user(
            stack, people["admin"], "pharmacist", tmp_path, first_name="Marisol",
            last_name="Quintero",
        ),
    )  # fmt: skip
    own_name = ("Marisol-Quintero-88!", "your name or email")
    for password, reason in [*GUESSABLE, own_name]:
        changed = api(
            stack,
            "POST",
            "/api/me/password",
            user,
            json={"current_password": user.password, "new_password": password},
        )
        assert changed.status_code == 422, (password, changed.text)
        assert reason in changed.json()["detail"], (password, changed.json())
    assert api(stack, "GET", "/api/session", user).status_code == 200  # nothing changed

    email = f"applicant-{uuid.uuid4().hex[:8]}@example.org"
    assert stack.post("/api/sign-ups", json={"email": email}).status_code == 202
    link = sign_up_link(stack, email)  # the password is chosen on the emailed link's page
    page = stack.get(f"/register/confirm/{link}")
    shown = [html.unescape(code) for code in re.findall(r"<code>([^<]+)</code>", page.text)]
    assert shown, "the sign-up page shows an example password"
    for password, reason in [*GUESSABLE, *((example, "the example password") for example in shown)]:
        signed_up = stack.post(f"/api/sign-ups/{link}", json={"password": password})
        assert signed_up.status_code == 422, (password, signed_up.text)
        assert reason in signed_up.json()["detail"], (password, signed_up.json())
