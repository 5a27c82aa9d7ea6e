"""The home page as a person meets it, in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]


def test_the_home_page_is_readable_navigable_and_styled(stack, browser, screenshots):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    page.goto(stack.url + "/")
    expect(page).to_have_title("Home · CPMRS")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Prescription Monitoring and Reporting System"
    )
    expect(page.get_by_role("banner")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("main")).to_be_visible()
    expect(page.get_by_role("contentinfo")).to_contain_text("Every search and report is recorded")
    expect(page.get_by_role("status")).to_contain_text("Sign in to use the system")
    # the stylesheet loaded (served by the gateway, allowed by the CSP)
    header_colour = page.get_by_role("banner").evaluate("e => getComputedStyle(e).backgroundColor")
    assert header_colour == "rgb(11, 61, 99)"

    # keyboard users: the first Tab reaches the skip link, Enter moves focus to the content
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()

    page.screenshot(path=screenshots / "home.png", full_page=True)
    assert console_errors == []

    page.get_by_role("navigation", name="Main").get_by_role("link", name="System status").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("System status")
    expect(page.get_by_text("All systems running")).to_be_visible()
    parts = page.get_by_role("table").first
    expect(parts.get_by_role("row")).to_have_count(9)  # header, broker, seven services
    read_models = page.locator("#projections")
    expect(read_models.get_by_role("row", name="alerts.watch")).to_contain_text("Current")
    expect(read_models).not_to_contain_text("Events set aside")
    page.screenshot(path=screenshots / "status.png", full_page=True)
    page.close()


def test_the_home_page_works_without_javascript(stack, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(stack.url + "/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="System status")
    ).to_have_attribute("href", "/status")
    context.close()
