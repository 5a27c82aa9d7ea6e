"""The help desk through the gateway, on SQLite and PostgreSQL: a locked-out user asks for
help without signing in and is written to only once they confirm their address from the
emailed link, staff categorise, unlock the account from the ticket (recorded by
identity with the ticket's number, and on the ticket), reply (emailed; internal notes are
not), resolve, and the user reopens; a user who forgot their password gets a new temporary
password letter from their ticket (posted by the mail room, never shown to the help desk)
and signs in with it; staff assign a ticket to a colleague
chosen by name; attachments follow the registration's upload rules; the queue and the
monthly report."""

from __future__ import annotations

import base64
import csv
import io
import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from services.helpdesk.ticket import ACCOUNT_ACTIONS
from tests.helpers.accounts import (
    User,
    api,
    change_password,
    create_user,
    letter_password,
    ready,
    sign_in,
)
from tests.helpers.pdf import words_of
from tests.helpers.registration import messages_to, png_bytes, wait_for_mail


@pytest.fixture(scope="module")
def staff(stack, people, tmp_path_factory) -> User:
    return ready(
        stack, create_user(stack, people["admin"], "helpdesk", tmp_path_factory.mktemp("s"))
    )


def lock_out(stack, user: User) -> None:
    for _ in range(6):
        stack.post("/api/sessions", json={"email": user.email, "password": "Wrong-Guess-0000!"})
    refused = stack.post("/api/sessions", json={"email": user.email, "password": user.password})
    assert refused.status_code in {401, 429} and "lock" in refused.text.lower(), refused.text


def wait_until(check, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def in_queue(stack, staff: User, ticket_id: str, **params) -> dict | None:
    queue = api(stack, "GET", "/api/helpdesk/queue", staff, params=params)
    assert queue.status_code == 200, queue.text
    return next((t for t in queue.json() if t["ticket_id"] == ticket_id), None)


def act(stack, user: User, ticket_id: str, action: str, expect: int = 200, **body):
    response = api(stack, "POST", f"/api/tickets/{ticket_id}/{action}", user, json=body)
    assert response.status_code == expect, response.text
    return response.json()


def send_form(stack, user: User, page: str, action: str, **form) -> requests.Response:
    """Send one of ``page``'s forms as a signed-in browser does, with the page's CSRF token."""
    with requests.Session() as browser:
        browser.cookies.update(user.cookies())
        shown = browser.get(stack.url + page, timeout=30)
        assert shown.status_code == 200, shown.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', shown.text).group(1)
        return browser.post(f"{stack.url}{page}/{action}", data={**form, "csrf_token": token},
                            allow_redirects=False, timeout=30)  # fmt: skip


def test_a_locked_out_user_is_helped_from_a_ticket(stack, people, staff, tmp_path_factory):
    admin = people["admin"]
    user = ready(stack, create_user(stack, admin, "prescriber", tmp_path_factory.mktemp("u")))
    lock_out(stack, user)

    opened = stack.post(
        "/api/tickets",
        json={
            "subject": "Locked out of CPMRS",
            "description": "I mistyped my password and now I am locked out.",
            "contact_name": "Pat Prescriber",
            "contact_email": user.email.upper(),
            "access_problem": "locked",
        },
    )
    assert opened.status_code == 201, opened.text
    ticket_id, reference = opened.json()["ticket_id"], opened.json()["reference"]
    assert opened.json()["signed_in"] is False
    # the address given is not known to be the opener's: it gets a link, nothing more
    asked = wait_for_mail(
        stack, user.email, f"Confirm your email address for help desk request {reference}"
    )
    link = re.search(r"/help/confirm/(\S+)", asked.text).group(1)

    listed = wait_until(lambda: in_queue(stack, staff, ticket_id, category="none"))
    assert listed["category"] is None and listed["due_at"] is None and listed["account_id"]
    act(stack, staff, ticket_id, "comments", body="We are checking your account now.")
    seen_by_staff = api(stack, "GET", f"/api/tickets/{ticket_id}", staff).json()
    assert seen_by_staff["contact_confirmed"] is False
    time.sleep(1.5)  # the acknowledgement and the reply would have been mailed by now
    assert [m.subject for m in messages_to(stack, user.email)] == [asked.subject]

    forged = stack.post(f"/api/ticket-confirmations/{link[:-1]}x")
    assert forged.status_code == 422, forged.text
    for _ in range(2):  # a second use answers alike and sends nothing more
        confirmed = stack.post(f"/api/ticket-confirmations/{link}")
        assert confirmed.status_code == 200 and confirmed.json()["reference"] == reference
    wait_for_mail(stack, user.email, f"We received your help desk request {reference}")
    time.sleep(1.5)
    received = [m.subject for m in messages_to(stack, user.email)]
    assert received.count(f"We received your help desk request {reference}") == 1, received
    assert not any("checking your account" in m.text for m in messages_to(stack, user.email))
    seen_by_staff = api(stack, "GET", f"/api/tickets/{ticket_id}", staff).json()
    assert seen_by_staff["contact_confirmed"] is True
    assert "Contact address confirmed" in str(seen_by_staff["history"])

    ticket = act(stack, staff, ticket_id, "categorise", category="critical")["ticket"]
    assert ticket["category"] == "critical" and ticket["due_at"]
    act(stack, staff, ticket_id, "assign", assignee_id=staff.account_id)

    unlocked = act(stack, staff, ticket_id, "unlock", reason="Identity checked by phone")
    action = unlocked["ticket"]["comments"][-1]
    assert action["internal"] and action["account_action"] == "unlock"
    account = api(stack, "GET", f"/api/accounts/{user.account_id}", staff).json()
    assert not account["locked"]
    reasons = [str(e) for e in account["history"] if "AccountUnlocked" in str(e)]
    assert any(f"Help desk ticket {reference}" in r for r in reasons), account["history"]
    act(stack, staff, ticket_id, "unlock", expect=409, reason="again")  # not locked any more

    act(stack, staff, ticket_id, "comments", body="Caller sounded stressed.", internal=True)
    act(stack, staff, ticket_id, "comments", body="Your account is unlocked; sign in again.")
    reply = wait_for_mail(stack, user.email, f"Reply to your help desk request {reference}")
    assert "Your account is unlocked; sign in again." in reply.text
    time.sleep(1.5)  # the internal note would have been mailed by now
    assert not any("stressed" in m.text for m in messages_to(stack, user.email))

    signed_in = stack.post("/api/sessions", json={"email": user.email, "password": user.password})
    assert signed_in.status_code == 201, signed_in.text
    user.token = signed_in.json()["token"]
    mine = wait_until(lambda: api(stack, "GET", "/api/tickets", user).json())
    assert [t["ticket_id"] for t in mine] == [ticket_id]
    seen = api(stack, "GET", f"/api/tickets/{ticket_id}", user).json()
    assert [c["body"] for c in seen["comments"]] == [
        "We are checking your account now.",
        "Your account is unlocked; sign in again.",
    ]
    assert not any("Unlocked" in h["text"] for h in seen["history"])

    assert in_queue(stack, staff, ticket_id)["first_response_at"]
    act(stack, staff, ticket_id, "resolve", resolution="Unlocked")
    wait_for_mail(stack, user.email, f"Your help desk request {reference} is resolved")
    act(stack, user, ticket_id, "reopen", reason="Locked again this morning")
    act(stack, user, ticket_id, "resolve", expect=403, resolution="mine")
    act(stack, staff, ticket_id, "escalate", to="state_it", reason="Directory sync fails")
    act(stack, staff, ticket_id, "resolve", resolution="State IT fixed the directory")
    closed = act(stack, staff, ticket_id, "close", reason="")["ticket"]
    assert closed["status"] == "closed"
    refused = act(stack, user, ticket_id, "reopen", expect=409, reason="again")
    assert "closed and cannot be reopened" in refused["detail"]

    month = datetime.now(UTC).astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m")
    report = api(stack, "GET", f"/api/helpdesk/reports/{month}", admin).json()
    critical = next(r for r in report["rows"] if r["category"] == "critical")
    assert critical["opened"] >= 1 and critical["resolved"] >= 1
    page = stack.get(f"/admin/helpdesk-report.csv?month={month}", cookies=admin.cookies())
    assert page.status_code == 200
    rows = list(csv.DictReader(io.StringIO(page.text)))
    assert any(r["Category"] == "Critical" and int(r["Opened"]) >= 1 for r in rows)


def test_a_temporary_password_letter_from_a_ticket(stack, people, staff, tmp_path):
    user = ready(stack, create_user(stack, people["admin"], "prescriber", tmp_path,
                                    first_name="Rosa", last_name="Lindqvist"))  # fmt: skip
    lock_out(stack, user)  # forgot the password, and locked the account guessing it
    opened = stack.post("/api/tickets", json={
        "subject": "Forgot my password", "description": "I no longer know my password.",
        "contact_name": "Rosa Lindqvist", "contact_email": user.email,
        "access_problem": "cannot_sign_in"})  # fmt: skip
    assert opened.status_code == 201, opened.text
    ticket_id, reference = opened.json()["ticket_id"], opened.json()["reference"]
    listed = wait_until(lambda: in_queue(stack, staff, ticket_id))
    assert listed["account_id"] == user.account_id

    refused = api(stack, "POST", f"/api/tickets/{ticket_id}/temporary-password", people[
        "prescriber"], json={"reason": "not staff"})  # fmt: skip
    assert refused.status_code == 403, refused.text
    done = act(stack, staff, ticket_id, "temporary-password", expect=202,
               reason="Caller verified by phone")  # fmt: skip
    assert done["outcome"] == "queued" and "letter_pdf" not in done  # never to the help desk
    note = done["ticket"]["comments"][-1]
    assert note["internal"] and note["account_action"] == "temporary_password"
    assert note["body"] == "Caller verified by phone"

    # identity records it (history is newest first), by the staff member, naming the ticket
    account = api(stack, "GET", f"/api/accounts/{user.account_id}", staff).json()
    issued = [e for e in account["history"] if e["type"] == "TemporaryPasswordIssued"]
    assert (issued[0]["actor_id"], issued[0]["actor_role"]) == (staff.account_id, "helpdesk")
    assert issued[0]["details"]["reason"] == (
        f"Help desk ticket {reference}: Caller verified by phone"
    )
    assert not account["locked"]  # a new password clears the lock

    # the mail room prints the letter for the post, to the address on file
    printed = api(stack, "POST", f"/api/letters/{done['letter_id']}/print", people["admin"])
    assert printed.status_code == 200, printed.text
    letter = tmp_path / "letter.pdf"
    letter.write_bytes(printed.content)
    text = words_of(letter)
    assert "Rosa Lindqvist" in text and user.email in text and "Temporary password" in text
    assert "165 Capitol Avenue" in text

    # the old password no longer works; the letter's does, and must be changed at once
    old = stack.post("/api/sessions", json={"email": user.email, "password": user.password})
    assert old.status_code == 401, old.text
    user.password = letter_password(letter.read_bytes(), tmp_path)
    assert user.password in text
    assert sign_in(stack, user)["stage"] == "change_password"
    assert change_password(stack, user, "Cobalt-Willow-Ferry-62!")["stage"] == "ready"
    seen = api(stack, "GET", f"/api/tickets/{ticket_id}", user).json()
    assert seen["comments"] == []  # the action's note is internal

    # the page's form queues another letter and says so; it downloads nothing
    page = send_form(stack, staff, f"/help/tickets/{ticket_id}", "temporary-password", reason="")
    assert page.status_code == 303, page.text
    assert page.headers["Location"].endswith("?notice=temporary-password")
    again = api(stack, "GET", f"/api/tickets/{ticket_id}", staff).json()
    assert again["comments"][-1]["body"] == ACCOUNT_ACTIONS["temporary_password"]
    shown = stack.get(page.headers["Location"], cookies=staff.cookies())
    assert "queued for the mail room" in shown.text


def test_staff_assign_a_ticket_to_a_colleague(stack, people, staff, tmp_path):
    admin = people["admin"]
    noor = create_user(stack, admin, "helpdesk", tmp_path, first_name="Noor", last_name="Haddad")
    question = {"subject": "Report totals", "description": "The totals look wrong.",
                "contact_name": "B", "contact_email": "b@example.org"}  # fmt: skip
    opened = stack.post("/api/tickets", json=question)
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["ticket_id"]
    wait_until(lambda: in_queue(stack, staff, ticket_id))
    page = f"/help/tickets/{ticket_id}"

    shown = stack.get(page, cookies=staff.cookies()).text
    options = dict(re.findall(r'<option value="([0-9a-f-]{36})"[^>]*>([^<]+)</option>', shown))
    assert options[noor.account_id] == "Noor Haddad (Help-desk staff)"
    assert options[admin.account_id].endswith("(Administrator)")
    assert people["prescriber"].account_id not in options
    assert "Assign to me" in shown

    assigned = send_form(stack, staff, page, "assign", assignee_id=noor.account_id)
    assert assigned.status_code == 303, assigned.text
    ticket = api(stack, "GET", f"/api/tickets/{ticket_id}", staff).json()
    assert (ticket["assignee_id"], ticket["assignee_name"]) == (noor.account_id, "Noor Haddad")
    shown = stack.get(page, cookies=staff.cookies()).text
    assert "<dd>Noor Haddad</dd>" in shown
    assert f'<option value="{noor.account_id}" selected>' in shown
    assert wait_until(lambda: in_queue(stack, staff, ticket_id, assignee=noor.account_id))
    queue = stack.get("/helpdesk/queue", params={"assignee": noor.account_id},
                      cookies=staff.cookies()).text  # fmt: skip
    assert ticket["reference"] in queue
    assert f'<option value="{noor.account_id}" selected>Noor Haddad</option>' in queue

    send_form(stack, staff, page, "assign", assignee="me")  # the quick button
    mine = api(stack, "GET", f"/api/tickets/{ticket_id}", staff).json()
    assert mine["assignee_id"] == staff.account_id
    assert "Assign to me" not in stack.get(page, cookies=staff.cookies()).text
    send_form(stack, staff, page, "assign", assignee_id="")  # Nobody
    assert wait_until(lambda: in_queue(stack, staff, ticket_id, assignee="none"))
    refused = act(stack, staff, ticket_id, "assign", expect=422,
                  assignee_id=people["prescriber"].account_id)  # fmt: skip
    assert "active help-desk staff" in refused["detail"], refused


def test_attachments_follow_the_upload_rules(stack, people, staff):
    user = people["prescriber"]
    png = base64.b64encode(png_bytes()).decode()
    ticket = {"subject": "Blank report", "description": "See the screenshot.",
              "contact_name": "Pat", "contact_email": user.email}  # fmt: skip
    refused = api(stack, "POST", "/api/tickets", user, json={
        **ticket, "attachments": [{"filename": "notes.txt", "content": base64.b64encode(
            b"just text").decode()}]})  # fmt: skip
    assert refused.status_code == 422 and "notes.txt" in refused.text, refused.text
    opened = api(stack, "POST", "/api/tickets", user, json={
        **ticket, "attachments": [{"filename": "screen.pdf", "content": png}]})  # fmt: skip
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["ticket_id"]
    seen = api(stack, "GET", f"/api/tickets/{ticket_id}", user).json()
    [attachment] = seen["attachments"]
    assert attachment["filename"] == "screen.png" and attachment["content_type"] == "image/png"
    path = f"/api/tickets/{ticket_id}/attachments/{attachment['document_id']}"
    for who in (user, staff):
        got = api(stack, "GET", path, who)
        assert got.status_code == 200 and got.content == png_bytes()
    assert api(stack, "GET", path, people["auditor"]).status_code == 404


def test_the_policy_moves_the_queues_deadlines(stack, people, staff):
    admin = people["admin"]
    policy = api(stack, "GET", "/api/helpdesk/policy", admin).json()
    assert policy["target_hours"] == {"critical": 1, "high": 4, "medium": 9, "low": 27}
    changed = {**policy, "target_hours": {**policy["target_hours"], "critical": 2},
               "holidays": ["2026-12-25"]}  # fmt: skip
    saved = api(stack, "PUT", "/api/helpdesk/policy", admin, json=changed)
    assert saved.status_code == 200 and saved.json()["holidays"] == ["2026-12-25"], saved.text
    wrong = {**policy, "target_hours": {**policy["target_hours"], "high": 50}}
    refused = api(stack, "PUT", "/api/helpdesk/policy", admin, json=wrong)
    assert refused.status_code == 422 and "High must not be longer" in refused.text
    question = {"subject": "Question", "description": "How?", "contact_name": "A",
                "contact_email": "a@example.org"}  # fmt: skip
    opened = stack.post("/api/tickets", json=question)
    ticket_id = opened.json()["ticket_id"]
    wait_until(lambda: in_queue(stack, staff, ticket_id))
    ticket = act(stack, staff, ticket_id, "categorise", category="critical")["ticket"]
    opened_at = datetime.fromisoformat(ticket["opened_at"])
    assert datetime.fromisoformat(ticket["due_at"]) - opened_at == timedelta(hours=2)
    api(stack, "PUT", "/api/helpdesk/policy", admin, json=policy)
