"""An administrator changes the clinical alert thresholds in a real browser: a mistake is
named at its field, and the saved policy is what the form shows next."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.test_sign_in import ready_administrator

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]


def test_an_administrator_changes_the_alert_policy(browser, stack, tmp_path, screenshots):
    _, context, page = ready_administrator(browser, stack, tmp_path, screenshots=None)
    try:
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Alert policy").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Alert policy")
        caution = page.get_by_label("Caution at or above")
        expect(caution).to_have_value("50")
        page.screenshot(path=screenshots / "alert-policy-1-form.png", full_page=True)

        caution.fill("95")  # above the alert level
        page.get_by_role("button", name="Save the policy").click()
        expect(page.get_by_role("alert")).to_contain_text("Must be below the alert level")
        expect(caution).to_have_attribute("aria-invalid", "true")
        page.screenshot(path=screenshots / "alert-policy-2-mistake.png", full_page=True)
        page.console_errors.clear()  # type: ignore[attr-defined]  # that 422 was expected

        caution.fill("40")
        page.get_by_label("Methadone conversion").select_option("cdc_2022")
        page.get_by_role("button", name="Save the policy").click()
        expect(page.get_by_role("status")).to_contain_text("The policy is saved")
        page.reload()
        expect(page.get_by_label("Caution at or above")).to_have_value("40")
        expect(page.get_by_label("Methadone conversion")).to_have_value("cdc_2022")
        assert not page.console_errors  # type: ignore[attr-defined]

        page.get_by_label("Caution at or above").fill("50")  # as the other tests expect it
        page.get_by_label("Methadone conversion").select_option("file")
        page.get_by_role("button", name="Save the policy").click()
        expect(page.get_by_role("status")).to_contain_text("The policy is saved")
    finally:
        context.close()
