"""The help desk in a real browser, with the real SMTP server: a locked-out user asks for
help from the sign-in page without signing in and confirms their address from the emailed
link; staff find the ticket in the queue, categorise
it Critical, assign it, unlock the account from the ticket and reply, and find it in the
queue by its assignee; the user receives the reply by email, signs in, and finds the ticket
under their own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.accounts import create_first_administrator, create_user, ready
from tests.helpers.browser import new_page
from tests.helpers.registration import wait_for_mail

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

REPLY = "We unlocked your account. Sign in with your usual password."


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"helpdesk-{name}.png", full_page=True)


def test_a_locked_out_user_is_unlocked_from_a_critical_ticket(
    browser, stack, tmp_path, screenshots
):
    admin = ready(stack, create_first_administrator(stack, tmp_path))
    staff = ready(stack, create_user(stack, admin, "helpdesk", tmp_path, first_name="Dana",
                                     last_name="Desk"))  # fmt: skip
    user = ready(stack, create_user(stack, admin, "prescriber", tmp_path, first_name="Pat",
                                    last_name="Okafor"))  # fmt: skip
    for _ in range(5):  # wrong passwords: the account locks
        stack.post("/api/sessions", json={"email": user.email, "password": "Not-My-Pass-11!"})

    context, page = new_page(browser)
    staff_context, desk = new_page(browser)
    staff_context.add_cookies([{"name": name, "value": value, "url": stack.url}
                               for name, value in staff.cookies().items()])  # fmt: skip
    try:
        # The user cannot sign in, and asks for help from the sign-in page.
        page.goto(stack.url + "/login")
        page.get_by_label("Email address").fill(user.email)
        page.get_by_label("Password", exact=True).fill(user.password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text(re.compile("locked", re.I)).first).to_be_visible()
        page.console_errors.clear()  # type: ignore[attr-defined]  # the refused sign-in's 401
        page.get_by_role("link", name=re.compile("Locked out or cannot sign in")).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Ask the help desk")
        expect(page.get_by_label("Is it about signing in?")).to_have_value("locked")
        page.get_by_label("Subject").fill("Locked out after mistyping my password")
        page.get_by_label("What happened?").fill(
            "I typed an old password a few times this morning and now CPMRS says my account "
            "is locked. I need to check a patient's history before noon."
        )
        page.get_by_label("Your name").fill("Pat Okafor")
        page.get_by_label("Your email address").fill(user.email)
        shot(page, screenshots, "1-ask-for-help")
        page.get_by_role("button", name="Send to the help desk").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("We received your request")
        reference = page.locator(".ticket-reference").inner_text()
        assert re.fullmatch(r"T-[0-9A-F]{8}", reference)
        expect(page.locator(".confirm-first")).to_contain_text("Open it to confirm")
        shot(page, screenshots, "2-received")
        # Not signed in: the address is confirmed from the emailed link before anything else.
        asked = wait_for_mail(
            stack, user.email, f"Confirm your email address for help desk request {reference}"
        )
        page.goto(re.search(r"https?://\S+/help/confirm/\S+", asked.text).group(0))
        expect(page.get_by_role("heading", level=1)).to_have_text("Email address confirmed")
        expect(page.locator(".ticket-reference")).to_have_text(reference)
        shot(page, screenshots, "2b-confirmed")
        wait_for_mail(stack, user.email, f"We received your help desk request {reference}")

        # Staff find it in the queue, not yet categorised.
        desk.goto(stack.url + "/account")
        desk.get_by_role("navigation", name="Main").get_by_role("link", name="Ticket queue").click()
        expect(desk.get_by_role("heading", level=1)).to_have_text("Help desk queue")
        row = desk.get_by_role("row").filter(has_text=reference)
        expect(row).to_contain_text("Not yet categorised")
        shot(desk, screenshots, "3-queue")
        row.get_by_role("link", name=reference).click()
        expect(desk.get_by_role("heading", level=1)).to_contain_text(reference)
        expect(desk.get_by_text("Linked account · My account is locked")).to_be_visible()

        desk.get_by_label(re.compile("^Critical")).check()
        desk.get_by_role("button", name="Categorise").click()
        expect(desk.locator(".ticket-category")).to_have_text("Critical")

        desk.get_by_label("Assign to").select_option(label="Dana Desk (Help-desk staff)")
        desk.get_by_role("button", name="Assign", exact=True).click()
        expect(desk.get_by_role("status")).to_have_text("Assignment saved.")
        expect(desk.locator(".facts")).to_contain_text(re.compile(r"Assigned to\s*Dana Desk"))
        expect(desk.get_by_role("button", name="Assign to me")).to_have_count(0)

        desk.get_by_role("button", name="Unlock the account").click()
        expect(desk.get_by_role("status")).to_contain_text("The account is unlocked")
        expect(desk.locator(".comment-internal")).to_contain_text("Identity verified by phone")

        desk.get_by_label(re.compile("^Reply to the user")).fill(REPLY)
        desk.get_by_role("button", name="Send", exact=True).click()
        expect(desk.locator(".comment").last).to_contain_text(REPLY)
        expect(desk.get_by_role("status")).to_have_text("Reply sent: the user is emailed a copy.")
        shot(desk, screenshots, "4-ticket-staff")
        desk.get_by_role("link", name="Back to the queue").click()
        desk.get_by_label("Assigned to").select_option(label="Dana Desk")
        desk.get_by_role("button", name="Show").click()
        expect(desk.get_by_role("row").filter(has_text=reference)).to_contain_text("Dana Desk")
        shot(desk, screenshots, "6-queue-assigned")
        assert desk.console_errors == []  # type: ignore[attr-defined]

        # The user gets the reply by email and signs in.
        mail = wait_for_mail(stack, user.email, f"Reply to your help desk request {reference}")
        assert REPLY in mail.text and "Identity verified" not in mail.text
        page.goto(stack.url + "/login")
        page.get_by_label("Email address").fill(user.email)
        page.get_by_label("Password", exact=True).fill(user.password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Signed in as")).to_be_visible()
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Help desk").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("My help desk tickets")
        page.get_by_role("link", name=reference).click()
        expect(page.locator(".comment").last).to_contain_text(REPLY)
        expect(page.get_by_text("Identity verified by phone")).to_have_count(0)
        shot(page, screenshots, "5-ticket-user")
        assert page.console_errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
        staff_context.close()
