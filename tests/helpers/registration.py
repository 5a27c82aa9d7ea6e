"""Registering for access through the JSON API of a running stack, as an applicant does it.

Sign up, start an application, read the verification link from the message the stack's SMTP
server received, fill the form of a role with valid answers, upload a document, accept the
agreement, submit; and an administrator's approval. Every applicant gets an address of their
own, so the messages of one are told from another's by the recipient.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
from PIL import Image

from tests.helpers import accounts
from tests.helpers.accounts import User, api
from tests.helpers.smtp import Received
from tests.helpers.stack import Stack

PASSWORD = "Willow-Copper-Harbor-93!"
VALID_DEA = "AB1234563"
WRONG_DEA = "AB1234567"  # the check digit should be 3
VALID_NPI = "1234567893"
ANSWERS = ["first answer", "second answer", "third answer"]

COMMON = {
    "first_name": "Priya",
    "last_name": "Okonkwo",
    "job": "Physician",
    "facility": "Elm Street Family Practice",
    "phone": "(860) 555-0100",
    "fax": "(860) 555-0199",
    "address_line1": "12 Elm Street",
    "address_line2": "",
    "city": "New Haven",
    "state": "CT",
    "zip": "06510",
}
BY_ROLE: dict[str, dict[str, str]] = {
    "prescriber": {
        "csp_number": "CSP.0012345",
        "dea_number": VALID_DEA,
        "npi": VALID_NPI,
        "license_number": "MD.045678",
        "specialty": "Family medicine",
    },
    "pharmacist": {
        "license_number": "PCT.0001",
        "pharmacy_name": "Elm Street Pharmacy",
        "ncpdp": "0712345",
        "npi": VALID_NPI,
    },
    "law_enforcement": {
        "agency": "New Haven Police Department",
        "badge_number": "4471",
        "supervisor_name": "Sgt. Dana Reyes",
        "supervisor_phone": "(860) 555-0142",
        "supervisor_email": "dreyes@example.gov",
    },
    "law_enforcement_mm": {
        "agency": "New Haven Police Department",
        "badge_number": "4472",
        "supervisor_name": "Sgt. Dana Reyes",
        "supervisor_phone": "(860) 555-0142",
        "supervisor_email": "dreyes@example.gov",
    },
    "delegate": {"supervisor_email": ""},  # the supervisor's address: give it
}


def new_email(prefix: str = "applicant") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.org"


def png_bytes(size: tuple[int, int] = (64, 40)) -> bytes:
    """A small real PNG, standing in for a scanned photo ID."""
    image = Image.new("RGB", size, (225, 235, 245))
    for x in range(4, size[0] // 2):
        for y in range(4, size[1] - 4):
            image.putpixel((x, y), (120, 140, 170))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def valid_form(role: str, email: str, **changes: str) -> dict[str, str]:
    """Answers every field of ``role``'s form correctly (a delegate still needs
    ``supervisor_email``)."""
    return {**COMMON, "email": email, **BY_ROLE[role], **changes}


def expect(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else {}


# -- the applicant -----------------------------------------------------------------------------


def sign_up(stack: Stack, email: str | None = None, password: str = PASSWORD) -> User:
    return accounts.sign_up(stack, email or new_email(), password)


def start(stack: Stack, user: User, role: str) -> dict[str, Any]:
    return expect(api(stack, "POST", "/api/registration", user, json={"role": role}), 201)


def mine(stack: Stack, user: User) -> dict[str, Any]:
    return expect(api(stack, "GET", "/api/registration", user), 200)


def messages_to(stack: Stack, email: str, subject: str = "") -> list[Received]:
    return [m for m in stack.mail.messages if email in m.envelope_to and subject in m.subject]


def wait_for_mail(stack: Stack, email: str, subject: str, timeout: float = 30) -> Received:
    return stack.mail.wait_for(
        lambda m: email in m.envelope_to and subject in m.subject, timeout=timeout
    )


def verification_link(stack: Stack, email: str, timeout: float = 30) -> str:
    """The link in the latest verification email to ``email``: its last part, the token."""
    wait_for_mail(stack, email, "Verify your email address", timeout)
    message = messages_to(stack, email, "Verify your email address")[-1]
    found = re.search(r"https?://\S+/register/verify/(\S+)", message.text)
    assert found, message.text
    return found.group(1)


def verify(stack: Stack, user: User) -> dict[str, Any]:
    link = verification_link(stack, user.email)
    return expect(stack.post(f"/api/registration/verification/{link}"), 200)


def security_questions(stack: Stack) -> list[str]:
    return expect(stack.get("/api/security-questions"), 200)["questions"][:3]


def save_form(stack: Stack, user: User, form: dict[str, str]) -> requests.Response:
    body = {**form, "questions": security_questions(stack), "answers": ANSWERS}
    return api(stack, "PUT", "/api/registration/form", user, json=body)


def upload(
    stack: Stack,
    user: User,
    content: bytes,
    filename: str = "photo-id.png",
    description: str = "Government photo ID",
    content_type: str = "application/octet-stream",
) -> requests.Response:
    return api(
        stack,
        "POST",
        "/api/registration/documents",
        user,
        files={"file": (filename, content, content_type)},
        data={"description": description},
    )


def accept_agreement(stack: Stack, user: User) -> dict[str, Any]:
    version = expect(stack.get("/api/registration/agreement"), 200)["version"]
    return expect(
        api(stack, "POST", "/api/registration/agreement", user, json={"version": version}), 200
    )


def submit(stack: Stack, user: User) -> requests.Response:
    return api(stack, "POST", "/api/registration/submission", user)


def complete_application(stack: Stack, role: str, email: str | None = None, **form: str) -> User:
    """A signed-up applicant whose application for ``role`` is ready to submit: address
    verified, valid form (``form`` changes it), a PNG uploaded, the agreement accepted."""
    user = sign_up(stack, email)
    start(stack, user, role)
    verify(stack, user)
    expect(save_form(stack, user, valid_form(role, user.email, **form)), 200)
    expect(upload(stack, user, png_bytes()), 201)
    view = accept_agreement(stack, user)
    assert view["can_submit"], view["missing"]
    return user


# -- administrators ----------------------------------------------------------------------------


def approve(stack: Stack, admin: User, user: User) -> dict[str, Any]:
    path = f"/api/registrations/{user.account_id}/approve"
    view = expect(api(stack, "POST", path, admin), 200)
    assert view["status"] == "approved", view
    return view


def wait_for_principal(
    stack: Stack, user: User, ok: Callable[[dict[str, Any]], bool], timeout: float = 30
) -> dict[str, Any]:
    """``user``'s principal once ``ok`` accepts it (access changes reach identity through a
    reaction, and the gateway caches principals for a few seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        principal = expect(api(stack, "GET", "/api/session", user), 200)
        if ok(principal):
            return principal
        assert time.monotonic() < deadline, f"the principal is still {principal}"
        time.sleep(0.2)


def registered(
    stack: Stack, admin: User, role: str, supervisor: User | None = None, **form: str
) -> User:
    """A user of ``role`` who applied through the API and was approved, signed in with the
    role's permissions. A delegate needs the approved prescriber or pharmacist who
    ``supervisor``s them; they approve first."""
    if role == "delegate":
        assert supervisor is not None, "a delegate needs a supervisor"
        form.setdefault("supervisor_email", supervisor.email)
    user = complete_application(stack, role, **form)
    submitted = expect(submit(stack, user), 200)
    if submitted["status"] == "awaiting_supervisor":
        assert supervisor is not None
        path = f"/api/delegates/{user.account_id}/approve"
        assert expect(api(stack, "POST", path, supervisor), 200)["status"] == "submitted"
    approve(stack, admin, user)
    wait_for_principal(stack, user, lambda p: p["role"] == role)
    user.role = role
    return user
