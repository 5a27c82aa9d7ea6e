"""An administrator looks after the medical marijuana registry in a real browser: loads the
registry file from its page and reads the refused lines in a table, grants a pharmacist the
registry on the user's page, then withdraws it, and finds a card to read the dispensations
dispensaries reported under it. Screenshots in test-artifacts/ for a person to look at."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.helpers.accounts import User, api, create_first_administrator, create_user, ready
from tests.integration.test_mm_dispensations import (
    dispensary_file,
    dispensation,
    loaded_with,
    registry_file,
    send,
)

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "mm-registry-sample.csv"


def signed_in(browser, stack, user: User) -> tuple[BrowserContext, Page, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": name, "value": value, "url": stack.url}
                         for name, value in user.cookies().items()])  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return context, page, errors


def test_an_administrator_loads_the_registry_file_and_reads_the_refused_lines(
    browser, stack, tmp_path, screenshots
):
    admin = ready(stack, create_first_administrator(stack, tmp_path))
    context, page, errors = signed_in(browser, stack, admin)
    try:
        page.goto(stack.url + "/")
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Registry file"
        ).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Load the registry file")
        page.get_by_role("button", name="Load file").click()  # no file chosen
        expect(page.get_by_role("alert")).to_contain_text("Choose the registry file to load.")
        expect(page.get_by_label("Registry file (CSV)")).to_have_attribute("aria-invalid", "true")
        page.screenshot(path=screenshots / "mm-admin-1-no-file.png", full_page=True)

        page.get_by_label("Registry file (CSV)").set_input_files(SAMPLE)
        page.get_by_role("button", name="Load file").click()
        expect(page.get_by_role("heading", level=2, name="mm-registry-sample.csv")).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("4 lines were refused")
        rows = page.locator("table.mm-errors tbody tr")
        expect(rows).to_have_count(4)
        expect(rows.nth(0)).to_contain_text("1990-02-30")
        expect(rows.nth(3)).to_contain_text("practitioner")
        page.screenshot(path=screenshots / "mm-admin-2-loaded.png", full_page=True)
        assert [e for e in errors if "422" not in e] == []
    finally:
        context.close()


def test_an_administrator_grants_a_pharmacist_the_registry_and_withdraws_it(
    browser, stack, tmp_path, screenshots
):
    admin = ready(stack, create_first_administrator(stack, tmp_path))
    pharmacist = create_user(stack, admin, "pharmacist", tmp_path, first_name="Priya",
                             last_name="Natarajan")  # fmt: skip
    context, page, errors = signed_in(browser, stack, admin)
    try:
        page.goto(f"{stack.url}/admin/users/{pharmacist.account_id}")
        registry = page.locator("section.registry-access")
        expect(registry.get_by_role("heading", level=2)).to_have_text("Medical marijuana registry")
        expect(registry.locator(".badge")).to_have_text("Not granted")
        registry.get_by_role("button", name="Grant the registry").click()  # no reason
        expect(page.get_by_role("alert")).to_contain_text("Give the reason")
        page.screenshot(path=screenshots / "mm-admin-3-grant-no-reason.png", full_page=True)
        registry.get_by_label("Reason").fill("verifies patients' cards at the counter")
        registry.get_by_role("button", name="Grant the registry").click()
        expect(page.get_by_role("status")).to_contain_text("The registry was granted")
        expect(registry.locator(".badge")).to_have_text("Granted")
        expect(page.get_by_role("cell", name="Permission granted")).to_be_visible()
        page.screenshot(path=screenshots / "mm-admin-4-granted.png", full_page=True)

        registry.get_by_label("Reason").fill("left the pharmacy")
        registry.get_by_role("button", name="Withdraw the registry").click()
        expect(page.get_by_role("status")).to_contain_text("The registry was withdrawn")
        expect(registry.locator(".badge")).to_have_text("Not granted")
        page.screenshot(path=screenshots / "mm-admin-5-withdrawn.png", full_page=True)
        assert [e for e in errors if "422" not in e] == []
    finally:
        context.close()


def test_an_administrator_finds_a_card_and_reads_the_dispensations_under_it(
    browser, stack, tmp_path, screenshots
):
    admin = ready(stack, create_first_administrator(stack, tmp_path))
    dispensary = ready(stack, create_user(stack, admin, "data_submitter", tmp_path))
    tag = uuid.uuid4().hex[:6].upper()
    loaded = api(stack, "POST", "/api/mm/imports", admin,
                 files={"file": ("registry.csv", registry_file(tag))})  # fmt: skip
    assert loaded.status_code == 200, loaded.text
    valid, unused, unknown = f"MM-{tag}-1", f"MM-{tag}-3", f"MM-{tag}-9"
    holder = ("VEGA", "MARISOL", "19840621")
    content = dispensary_file(
        [
            dispensation(1, tag, valid, "20260310", holder),
            dispensation(2, tag, valid, "20260412", ("LOPEZ", "CARMEN", "19900101")),
            dispensation(3, tag, valid, "20250301", holder, {9: "1", 11: "01"}),  # before issue
            dispensation(4, tag, unknown, "20260501", ("REED", "SAM", "19770707")),
            dispensation(5, tag, valid, "20260320", holder, picked_up_by=("VEGA", "ANA")),
        ],
        control=f"{tag}1",
    )
    send(stack, dispensary, content, "dispensary-april.dat")
    loaded_with(stack, admin, valid, 4)
    context, page, errors = signed_in(browser, stack, admin)
    try:
        page.goto(stack.url + "/")
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Registry file"
        ).click()
        find = page.get_by_role("region", name="Find a card")
        find.get_by_role("button", name="Find card").click()  # no number typed
        expect(page.get_by_role("alert")).to_contain_text("Enter the card number.")
        expect(find.get_by_label("Card number")).to_have_attribute("aria-invalid", "true")
        page.screenshot(path=screenshots / "mm-admin-6-find-no-number.png", full_page=True)

        find.get_by_label("Card number").fill(valid.lower())
        find.get_by_role("button", name="Find card").click()
        expect(page).to_have_url(f"{stack.url}/admin/mm-registry/cards/{valid}")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Card {valid}")
        expect(page.locator(".mm-badge")).to_have_text("Status today: VALID")
        expect(page.get_by_role("region", name="Holder")).to_contain_text("Marisol Vega")
        rows = page.locator("table.mm-dispensations tbody tr")
        expect(rows).to_have_count(4)
        expect(rows.nth(0)).to_contain_text("⚠ Not the holder")  # newest first
        expect(rows.nth(1)).to_contain_text("picked up by ANA VEGA (caregiver)")
        expect(rows.nth(1)).to_contain_text("⚠ Not the caregiver")  # the card has none
        expect(rows.nth(2)).not_to_contain_text("⚠")
        expect(rows.nth(3)).to_contain_text("⚠ Not yet issued")
        expect(page.get_by_role("status")).to_contain_text("3 of 4 dispensations need checking")
        page.screenshot(path=screenshots / "mm-admin-7-card.png", full_page=True)

        page.get_by_role("link", name="Find another card").click()
        find.get_by_label("Card number").fill(unused)
        find.get_by_role("button", name="Find card").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Card {unused}")
        expect(
            page.get_by_text("No dispensary has reported a dispensation under this card.")
        ).to_be_visible()
        page.screenshot(path=screenshots / "mm-admin-8-card-no-dispensations.png", full_page=True)

        page.get_by_role("link", name="Find another card").click()
        page.get_by_role("link", name="Dispensations to check").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Dispensations to check")
        mine = page.locator("table.mm-to-check tbody tr").filter(has_text=f"MM-{tag}-")
        expect(mine).to_have_count(4)  # not the holder's own purchase on the valid card
        expect(mine.filter(has_text=unknown)).to_contain_text("⚠ No such card")
        expect(mine.filter(has_text="CARMEN LOPEZ")).to_contain_text("⚠ Not the holder")
        expect(mine.filter(has_text="2025-03-01")).to_contain_text("⚠ Not yet issued")
        expect(mine.filter(has_text="2026-03-20")).to_contain_text("⚠ Not the caregiver")
        page.screenshot(path=screenshots / "mm-admin-9-to-check.png", full_page=True)
        page.get_by_role("link", name=unknown).click()
        expect(page).to_have_url(re.compile(f"/admin/mm-registry/cards/{unknown}$"))
        expect(page.get_by_role("status")).to_contain_text(
            "The registry has no card with this number."
        )
        expect(page.locator("table.mm-dispensations tbody tr")).to_contain_text("SAM REED")
        page.screenshot(path=screenshots / "mm-admin-10-no-such-card.png", full_page=True)
        assert [e for e in errors if "422" not in e] == []
    finally:
        context.close()
