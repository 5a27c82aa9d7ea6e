"""An auditor reads the misuse signals in a real browser: a prescriber searched a patient of
their own surname, and the signal shows who, when, the evidence, and links onwards."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_sign_in import new_page
from tests.helpers.accounts import create_first_administrator, create_user, ready
from tests.helpers.processes import wait_until
from tests.integration.test_patient_search_api import search

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"misuse-signals-{name}.png", full_page=True)


def test_an_auditor_sees_a_prescriber_s_search_of_their_own_surname(
    browser, stack, tmp_path, screenshots
):
    admin = ready(stack, create_first_administrator(stack, tmp_path))
    auditor = ready(stack, create_user(stack, admin, "auditor", tmp_path))
    prescriber = ready(
        stack, create_user(stack, admin, "prescriber", tmp_path, first_name="Ngozi",
                           last_name="Okafor-Reyes")
    )  # fmt: skip
    assert search(stack, prescriber, "Emeka", "Okafor", "1950-04-05").status_code == 200
    wait_until(
        lambda: stack.get("/api/audit/signals", headers=auditor.headers()).json()["total"],
        60,
        "the signal raised",
    )

    context, page = new_page(browser)
    context.add_cookies([{"name": name, "value": value, "url": stack.url}
                         for name, value in auditor.cookies().items()])  # fmt: skip
    try:
        page.goto(stack.url + "/account")
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Misuse signals"
        ).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Misuse signals")
        row = page.get_by_role("row", name="Patient shares the searcher's surname")
        expect(row).to_contain_text("Ngozi Okafor-Reyes searched for the surname OKAFOR")
        expect(row).to_contain_text("Prescriber")
        expect(row).to_contain_text("None found")
        shot(page, screenshots, "1-list")

        page.get_by_label("Kind").select_option(
            label="Search far outside the searcher's usual hours"
        )
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_role("cell", name="No signals match.")).to_be_visible()
        shot(page, screenshots, "2-none-of-a-kind")

        page.get_by_label("Kind").select_option(label="Every kind")
        page.get_by_role("button", name="Show").click()
        page.get_by_role("link", name="Ngozi Okafor-Reyes").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("User activity")
        expect(page.get_by_role("cell", name="PatientSearched")).to_be_visible()
        assert page.console_errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
