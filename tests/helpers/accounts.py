"""Accounts of every role on a running stack, signed in through the JSON API.

The first administrator is made the way an operator makes one (``pmp accounts create``,
letter and all); every other account is made by that administrator through the API. Each
user then goes through the real first sign-in: temporary password from the letter, forced
change, MFA enrolment where the role requires it.
"""

from __future__ import annotations

import base64
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import requests

from gateway.auth import SESSION_COOKIE
from services.identity.roles import Role
from tests.helpers.commands import pmp_ok
from tests.helpers.stack import Stack

NEW_PASSWORD = "Osprey-Quarry-Velvet-58!"
ADDRESS = ["165 Capitol Avenue", "Hartford, CT 06106"]


@dataclass
class User:
    account_id: str
    email: str
    role: str
    password: str
    token: str = ""
    totp_secret: str | None = None
    recovery_codes: list[str] = field(default_factory=list)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def cookies(self) -> dict[str, str]:
        """What a signed-in browser sends: the session cookie."""
        return {SESSION_COOKIE: self.token}

    def code(self) -> str:
        """A TOTP code not used before (one per 30-second step is accepted)."""
        assert self.totp_secret
        return pyotp.TOTP(self.totp_secret).now()


def letter_password(pdf: bytes, tmp: Path) -> str:
    """The temporary password printed in a credential letter, read as a person reads it."""
    path = tmp / f"letter-{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith("Temporary password:"):
            rest = line.removeprefix("Temporary password:").strip()
            return rest.split()[0] if rest else lines[i + 1].split()[0]
    raise AssertionError(f"no temporary password in the letter:\n{text}")


def create_first_administrator(stack: Stack, tmp: Path, email: str | None = None) -> User:
    email = email or f"admin-{uuid.uuid4().hex[:8]}@example.gov"
    letter = tmp / f"admin-{uuid.uuid4().hex}.pdf"
    pmp_ok(
        "accounts", "create", "--email", email, "--first-name", "Ada", "--last-name", "Admin",
        "--address", ADDRESS[0], "--address", ADDRESS[1], "--letter", str(letter),
        env=stack.env_for_commands(),
        timeout=60,
    )  # fmt: skip
    password = letter_password(letter.read_bytes(), tmp)
    account_id = find_account_id(stack, email)
    return User(account_id, email, str(Role.ADMINISTRATOR), password)


def find_account_id(stack: Stack, email: str) -> str:
    """Read from the stack's letter-less side: the identity store via the CLI's RPC."""
    from nameko.standalone.rpc import ClusterRpcProxy

    context = {"actor_id": "operator", "actor_role": str(Role.ADMINISTRATOR)}
    with ClusterRpcProxy({"AMQP_URI": stack.env["PMP_AMQP_URI"]}, context_data=context) as rpc:
        found = rpc.identity.list_accounts(query=email)
    matches = [a["account_id"] for a in found["accounts"] if a["email"] == email]
    assert matches, f"{email} not in the directory"
    return matches[0]


def create_user(stack: Stack, admin: User, role: str, tmp: Path, **fields: str) -> User:
    email = fields.pop("email", f"{role}-{uuid.uuid4().hex[:8]}@example.org")
    body = {
        "email": email,
        "first_name": fields.pop("first_name", "Pat"),
        "last_name": fields.pop("last_name", role.replace("_", " ").title()),
        "role": role,
        "address_lines": ADDRESS,
    }
    response = stack.post("/api/accounts", json=body, headers=admin.headers())
    assert response.status_code == 201, response.text
    created = response.json()
    password = letter_password(base64.b64decode(created["credential_letter_pdf"]), tmp)
    return User(created["account_id"], email, role, password)


def sign_in(stack: Stack, user: User) -> dict:
    """Sign in; return the principal. Passes the MFA step when the user has enrolled."""
    response = stack.post("/api/sessions", json={"email": user.email, "password": user.password})
    assert response.status_code == 201, response.text
    user.token = response.json()["token"]
    principal = response.json()["principal"]
    if principal["stage"] == "mfa":
        principal = pass_mfa(stack, user)
    return principal


def pass_mfa(stack: Stack, user: User) -> dict:
    response = stack.post("/api/session/mfa", json={"code": user.code()}, headers=user.headers())
    if response.status_code == 422:  # this 30-second code was used already: wait for the next
        _next_step()
        response = stack.post(
            "/api/session/mfa", json={"code": user.code()}, headers=user.headers()
        )
    assert response.status_code == 200, response.text
    return response.json()


def _next_step() -> None:
    import time

    time.sleep(30 - time.time() % 30 + 0.5)


def change_password(stack: Stack, user: User, new: str = NEW_PASSWORD) -> dict:
    response = stack.post(
        "/api/me/password",
        json={"current_password": user.password, "new_password": new},
        headers=user.headers(),
    )
    assert response.status_code == 200, response.text
    user.password, user.token = new, response.json()["token"]
    return response.json()["principal"]


def enrol_mfa(stack: Stack, user: User) -> dict:
    started = stack.post("/api/me/mfa", headers=user.headers())
    assert started.status_code == 200, started.text
    user.totp_secret = started.json()["secret"]
    confirmed = stack.post(
        "/api/me/mfa/confirm",
        json={"secret": user.totp_secret, "code": user.code()},
        headers=user.headers(),
    )
    assert confirmed.status_code == 200, confirmed.text
    user.recovery_codes = confirmed.json()["recovery_codes"]
    return confirmed.json()["principal"]


def ready(stack: Stack, user: User) -> User:
    """Take ``user`` from their letter to a fully signed-in session."""
    principal = sign_in(stack, user)
    if principal["stage"] == "change_password":
        principal = change_password(stack, user)
    if principal["stage"] == "enrol_mfa":
        principal = enrol_mfa(stack, user)
    assert principal["stage"] == "ready", principal
    return user


def every_role(stack: Stack, tmp: Path) -> dict[str, User]:
    """One signed-in user per role (the administrator first, who creates the others)."""
    admin = ready(stack, create_first_administrator(stack, tmp))
    users = {str(Role.ADMINISTRATOR): admin}
    for role in Role:
        if role == Role.APPLICANT:
            users[str(role)] = sign_up(stack)
        elif role != Role.ADMINISTRATOR:
            users[str(role)] = ready(stack, create_user(stack, admin, str(role), tmp))
    return users


def sign_up(stack: Stack, email: str | None = None, password: str = NEW_PASSWORD) -> User:
    """An applicant's own account, signed in (applicants are never made by administrators):
    ask with the address, then choose the password with the link the address receives."""
    email = email or f"applicant-{uuid.uuid4().hex[:8]}@example.org"
    asked = stack.post("/api/sign-ups", json={"email": email})
    assert asked.status_code == 202, asked.text
    response = stack.post(f"/api/sign-ups/{sign_up_link(stack, email)}",
                          json={"password": password})  # fmt: skip
    assert response.status_code == 201, response.text
    principal = response.json()["principal"]
    assert principal["role"] == "applicant" and principal["stage"] == "ready", principal
    return User(principal["account_id"], email, "applicant", password, response.json()["token"])


def sign_up_link(stack: Stack, email: str, timeout: float = 30) -> str:
    """The token of the latest sign-up link the stack's SMTP server received for ``email``."""

    def invitation(m) -> bool:
        return email in m.envelope_to and m.subject == "Finish signing up for CPMRS"

    stack.mail.wait_for(invitation, timeout)
    message = [m for m in stack.mail.messages if invitation(m)][-1]
    found = re.search(r"/register/confirm/(\S+)", message.text)
    assert found, message.text
    return found.group(1)


def api(stack: Stack, method: str, path: str, user: User | None = None, **kwargs):
    headers = user.headers() if user else {}
    return requests.request(method, stack.url + path, headers=headers, timeout=30, **kwargs)
