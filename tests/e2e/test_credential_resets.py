"""Credential resets in a real browser: the help desk posts a prescriber a new temporary
password from the prescriber's access ticket and never sees the letter; an administrator's
access ticket offers the help desk nothing; the mail room prints the letter once and marks
it posted; resetting an administrator waits for a second administrator, who approves it
from the approvals list and receives the letter to hand over."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.accounts import User, create_first_administrator, create_user, letter_password
from tests.helpers.accounts import ready as make_ready
from tests.helpers.browser import new_page
from tests.helpers.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"resets-{name}.png", full_page=True)


def row_of(page: Page, text: str):
    """The table row with ``text``, reloading while the approvals list (a read model) is
    catching up."""
    for _ in range(20):
        row = page.get_by_role("row").filter(has_text=text)
        if row.count():
            return row
        page.wait_for_timeout(250)
        page.reload()
    return page.get_by_role("row").filter(has_text=text)


def access_ticket(stack: Stack, user: User, subject: str) -> str:
    opened = stack.post("/api/tickets", headers=user.headers(), json={
        "subject": subject, "description": "I forgot my password.", "contact_name": "Me",
        "contact_email": user.email, "access_problem": "cannot_sign_in"})  # fmt: skip
    assert opened.status_code == 201, opened.text
    return opened.json()["ticket_id"]


def test_a_letter_goes_from_the_access_ticket_to_the_mail_room_and_the_post(
    browser, stack, tmp_path, screenshots
):
    admin = make_ready(stack, create_first_administrator(stack, tmp_path))
    staff = make_ready(stack, create_user(stack, admin, "helpdesk", tmp_path, first_name="Noor",
                                          last_name="Haddad"))  # fmt: skip
    user = make_ready(stack, create_user(stack, admin, "prescriber", tmp_path, first_name="Rosa",
                                         last_name="Lindqvist"))  # fmt: skip
    other_admin = make_ready(stack, create_user(stack, admin, "administrator", tmp_path,
                                                first_name="Ines", last_name="Ward"))  # fmt: skip
    ticket_id = access_ticket(stack, user, "Forgot my password")
    staff_ticket_id = access_ticket(stack, other_admin, "Administrator locked out")

    desk_context, desk = new_page(browser, stack, staff)
    room_context, room = new_page(browser, stack, admin)
    try:
        # The help desk acts from the prescriber's access ticket: the letter is posted.
        desk.goto(f"{stack.url}/help/tickets/{ticket_id}")
        account = desk.get_by_role("group", name="The user's account")
        expect(account).to_contain_text("posted to the address on file")
        expect(account.get_by_role("button", name="Unlock the account")).to_have_count(0)
        shot(desk, screenshots, "1-access-ticket")
        downloads: list = []
        desk.on("download", lambda download: downloads.append(download))
        account.get_by_role("button", name="Post a new temporary password letter").click()
        expect(desk.get_by_role("status")).to_contain_text("queued for the mail room")
        expect(desk.locator(".comment-internal").last).to_contain_text("Forgotten password")
        shot(desk, screenshots, "2-letter-queued")
        assert downloads == [], "the help desk never receives the letter"

        # The user's page sends the help desk to the ticket; it offers no credential action.
        desk.goto(f"{stack.url}/admin/users/{user.account_id}")
        expect(desk.locator("#from-ticket")).to_contain_text("only from an open access ticket")
        expect(desk.get_by_role("heading", name="New temporary password")).to_have_count(0)
        shot(desk, screenshots, "2b-user-page-help-desk")

        # An administrator's access ticket offers the help desk no account action at all.
        desk.goto(f"{stack.url}/help/tickets/{staff_ticket_id}")
        expect(desk.get_by_role("heading", level=1)).to_contain_text("Ticket T-")
        expect(desk.get_by_role("group", name="The user's account")).to_have_count(0)
        assert desk.console_errors == []  # type: ignore[attr-defined]

        # The mail room prints it once, then marks it posted.
        room.goto(stack.url + "/account")
        nav = room.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Letters to post").click()
        expect(room.get_by_role("heading", level=1)).to_have_text("Letters to post")
        row = room.get_by_role("row").filter(has_text="Rosa Lindqvist")
        expect(row).to_contain_text("165 Capitol Avenue, Hartford, CT 06106")
        expect(row).to_contain_text("Waiting to print")
        shot(room, screenshots, "3-mail-room")
        with room.expect_download() as printing:
            row.get_by_role("button", name="Print letter").click()
        letter = tmp_path / "letter.pdf"
        printing.value.save_as(letter)
        password = letter_password(letter.read_bytes(), tmp_path)
        room.reload()
        row = room.get_by_role("row").filter(has_text="Rosa Lindqvist")
        expect(row).to_contain_text("Printed")
        expect(row.get_by_role("button", name="Print letter")).to_have_count(0)
        shot(room, screenshots, "4-printed")
        row.get_by_role("button", name="Mark posted").click()
        expect(room.get_by_role("status")).to_have_text("Marked as posted.")
        expect(room.get_by_role("row").filter(has_text="Rosa Lindqvist")).to_have_count(0)
        signed = stack.post("/api/sessions", json={"email": user.email, "password": password})
        assert signed.status_code == 201, "the posted letter signs its addressee in"

        # An administrator's letter for a registrant goes to the mail room too.
        room.goto(f"{stack.url}/admin/users/{user.account_id}")
        form = room.locator("form.action", has=room.get_by_role("heading", name="New temporary"))
        expect(form).to_contain_text("Queued for the mail room")
        form.get_by_label("Reason").fill("Asked by letter")
        form.get_by_role("button", name="Issue the letter").click()
        expect(room.get_by_role("status")).to_contain_text("queued for the mail room")
        shot(room, screenshots, "4b-user-page-letter-queued")

        # Resetting an administrator: asked on the user's page, approved by another.
        room.goto(f"{stack.url}/admin/users/{other_admin.account_id}")
        form = room.locator("form.action", has=room.get_by_role("heading", name="New temporary"))
        expect(form).to_contain_text("Another administrator must approve it")
        form.get_by_label("Reason").fill("Locked out, verified in person")
        form.get_by_role("button", name="Ask for approval").click()
        expect(room.get_by_role("status")).to_contain_text("a second administrator must approve")
        shot(room, screenshots, "5-asked-for-approval")
        room.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
        row = row_of(room, "Ines Ward")
        expect(row).to_contain_text("(you)")
        expect(row.get_by_role("button", name=re.compile("^Approve"))).to_have_count(0)
        shot(room, screenshots, "6-approvals-own-request")
        assert room.console_errors == []  # type: ignore[attr-defined]
    finally:
        desk_context.close()
        room_context.close()

    second = make_ready(stack, create_user(stack, admin, "administrator", tmp_path,
                                           first_name="Omar", last_name="Reyes"))  # fmt: skip
    approver_context, approver = new_page(browser, stack, second)
    try:
        approver.goto(stack.url + "/admin/approvals")
        row = row_of(approver, "Ines Ward")
        expect(row).to_contain_text("Ada Admin")
        shot(approver, screenshots, "7-approvals")
        with approver.expect_download() as approving:
            row.get_by_role("button", name="Approve and download the letter").click()
        handed = tmp_path / "handed.pdf"
        approving.value.save_as(handed)
        new = letter_password(handed.read_bytes(), tmp_path)
        signed = stack.post("/api/sessions", json={"email": other_admin.email, "password": new})
        assert signed.status_code == 201, "the approved letter signs the administrator in"
        approver.goto(stack.url + "/admin/approvals")
        expect(approver.get_by_text("No resets are waiting for approval.")).to_be_visible()
        assert approver.console_errors == []  # type: ignore[attr-defined]
    finally:
        approver_context.close()
