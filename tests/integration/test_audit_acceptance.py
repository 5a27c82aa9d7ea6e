"""Issue 8's acceptance, end to end on the running stack: a prescriber registers, is approved,
changes their password and runs two searches; the auditor's user activity report lists
exactly those events, in order; ``pmp audit verify`` passes, and fails at the very entry
where one byte of the audit table is changed."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import sqlalchemy as sa

from services.audit import trail
from services.identity.roles import Permission
from tests.helpers import accounts, registration
from tests.helpers.audit import drop_guards, restore_guards
from tests.helpers.commands import pmp
from tests.helpers.processes import wait_until
from tests.integration.test_patient_search_api import search
from tests.integration.test_stack import open_service_db

# What the prescriber's steps record, in order: (service, event). The approval is the
# administrator's act on the applicant's registration stream, and identity grants the role
# in reaction to it; changing the password ends the session and starts a new one.
EXPECTED = [
    ("identity", "AccountSignedUp"),
    ("identity", "SessionStarted"),
    ("registration", "ApplicationStarted"),
    ("registration", "VerificationEmailRequested"),
    ("registration", "EmailVerified"),
    ("identity", "SecurityQuestionsSet"),
    ("registration", "FormSaved"),
    ("registration", "DocumentAttached"),
    ("registration", "AgreementAccepted"),
    ("registration", "ApplicationSubmitted"),
    ("registration", "ApplicationApproved"),
    ("identity", "AccessGranted"),
    ("identity", "PasswordChanged"),
    ("identity", "SessionEnded"),
    ("identity", "SessionStarted"),
    ("query", "PatientSearched"),
    ("query", "PatientSearched"),
]


def verify(stack) -> subprocess.CompletedProcess:
    return pmp("audit", "verify", env=stack.env_for_commands(), timeout=60)


def activity(stack, auditor, account_id: str) -> list[dict]:
    response = stack.get(f"/api/audit/users/{account_id}/activity.jsonl", headers=auditor.headers())
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


@pytest.mark.timeout(300)
def test_an_auditor_sees_exactly_what_a_new_prescriber_did_and_verify_finds_one_byte(
    stack,
    people,
    auditor,
) -> None:
    user = registration.complete_application(stack, "prescriber")
    registration.expect(registration.submit(stack, user), 200)
    registration.approve(stack, people["admin"], user)
    registration.wait_for_principal(
        stack, user, lambda p: Permission.PATIENT_SEARCH in p["permissions"]
    )
    accounts.change_password(stack, user)
    for last in ("Firstlook", "Secondlook"):
        assert search(stack, user, "Nobody", last, "1900-01-05").status_code == 200

    lines = wait_until(
        lambda: (
            (found := activity(stack, auditor, user.account_id))
            and sum(e["type"] == "PatientSearched" for e in found) == 2
            and found
        ),
        60,
        "both searches in the audit trail",
    )
    assert [(e["source"], e["type"]) for e in lines] == EXPECTED
    assert [e["data"]["criteria"]["last_name"] for e in lines[-2:]] == ["Firstlook", "Secondlook"]
    approval = lines[EXPECTED.index(("registration", "ApplicationApproved"))]
    assert approval["metadata"]["actor_id"] == people["admin"].account_id
    page = stack.get(
        "/audit/activity", params={"account": user.account_id}, cookies=auditor.cookies()
    )
    assert page.status_code == 200, page.text
    shown = re.findall(r'<tr><td class="num">(\d+)</td>', page.text)
    assert shown == [str(e["n"]) for e in lines]  # the page lists the same entries, in order

    verified = verify(stack)
    assert verified.returncode == 0 and verified.stdout.startswith("intact: "), verified.stdout
    changed = lines[EXPECTED.index(("identity", "PasswordChanged"))]["n"]
    db = open_service_db(stack, "audit")
    where = trail.entries.c.n == changed
    try:
        with db.read() as conn:
            body = conn.scalar(sa.select(trail.entries.c.body).where(where))
        at = body.index('"password_hash":"$argon2') + 20  # a byte of the stored hash
        tampered = body[:at] + ("b" if body[at] == "a" else "a") + body[at + 1 :]
        assert len(tampered) == len(body) and tampered != body
        drop_guards(db)
        try:
            with db.write() as conn:
                conn.execute(trail.entries.update().where(where).values(body=tampered))
            broken = verify(stack)
        finally:
            with db.write() as conn:
                conn.execute(trail.entries.update().where(where).values(body=body))
            restore_guards(db)
    finally:
        db.dispose()
    assert broken.returncode == 1
    assert broken.stdout.startswith(f"BROKEN at entry {changed}: "), broken.stdout
    assert verify(stack).returncode == 0  # put back, it holds again
