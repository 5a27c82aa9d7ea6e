"""An auditor investigates in a real browser: one user's activity, and their registration as
it stood on a chosen day; a mistaken account id is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_sign_in import new_page
from tests.helpers import registration
from tests.helpers.accounts import create_first_administrator, create_user, ready
from tests.helpers.program_day import program_today

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"audit-{name}.png", full_page=True)


def test_an_auditor_reads_a_user_s_activity_and_registration_as_of_a_day(
    browser, stack, tmp_path, screenshots
):
    admin = ready(stack, create_first_administrator(stack, tmp_path))
    auditor = ready(stack, create_user(stack, admin, "auditor", tmp_path))
    applicant = registration.complete_application(stack, "prescriber", last_name="Halvorsen")
    registration.expect(registration.submit(stack, applicant), 200)
    registration.approve(stack, admin, applicant)

    context, page = new_page(browser)
    context.add_cookies([{"name": name, "value": value, "url": stack.url}
                         for name, value in auditor.cookies().items()])  # fmt: skip
    try:
        page.goto(stack.url + "/account")
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="User activity").click()
        page.get_by_label("Account id").fill(applicant.account_id)
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_role("cell", name="ApplicationApproved")).to_be_visible()
        shot(page, screenshots, "1-user-activity")

        nav.get_by_role("link", name="As of").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("As of a past moment")
        form = page.locator("form", has=page.get_by_role("heading", name="A user's registration"))
        form.get_by_label("Account id").fill(applicant.account_id)
        form.get_by_label("As of").fill(program_today().isoformat())
        form.get_by_role("button", name="Show the registration").click()
        expect(page.get_by_role("heading", name="Registration of")).to_contain_text("Halvorsen")
        expect(page.locator(".badge").first).to_have_text("Approved")
        expect(page.get_by_text("Renewal date")).to_be_visible()
        shot(page, screenshots, "2-registration-as-of")

        form = page.locator("form", has=page.get_by_role("heading", name="A user's registration"))
        form.get_by_label("Account id").fill("Dr Halvorsen")
        form.get_by_role("button", name="Show the registration").click()
        expect(page.get_by_role("alert")).to_contain_text("Account: give the account's id")
        shot(page, screenshots, "3-mistaken-account")
        page.console_errors.clear()  # type: ignore[attr-defined]  # that 422 was expected
    finally:
        context.close()
