"""A registry-only officer verifies medical marijuana cards on a phone-sized screen: signs
in, finds the one page they may use, verifies a valid card by its number and an expired one
by name and date of birth, and is told when the registry spells the name otherwise than typed.
The screenshots are checked for the status word and its colour."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.test_sign_in import sign_in
from tests.helpers.accounts import api, create_first_administrator, create_user, ready
from tests.helpers.processes import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "mm-registry-sample.csv"
PHONE = {"width": 390, "height": 844}
GREEN, RED = (0x1F, 0x6F, 0x3A), (0xA3, 0x16, 0x1A)  # --ok and --bad in app.css


def shot(page: Page, folder: Path, name: str) -> Path:
    path = folder / f"mm-verification-{name}.png"
    page.screenshot(path=path)  # the first screen only: what the officer sees at a glance
    return path


def share_of(path: Path, colour: tuple[int, int, int], box: dict[str, float]) -> float:
    """How much of ``box`` (CSS pixels) in the screenshot is close to ``colour``."""
    image = Image.open(path).convert("RGB")
    scale = image.width / PHONE["width"]
    left, top = box["x"] * scale, box["y"] * scale
    crop = image.crop((left, top, left + box["width"] * scale, top + box["height"] * scale))
    pixels = list(crop.getdata())
    near = sum(1 for p in pixels if sum(abs(a - b) for a, b in zip(p, colour, strict=True)) < 60)
    return near / len(pixels)


def test_an_officer_verifies_a_valid_and_an_expired_card_on_a_phone(
    browser, stack, tmp_path, screenshots
):
    admin = ready(stack, create_first_administrator(stack, tmp_path))
    loaded = api(stack, "POST", "/api/mm/imports", admin,
                 files={"file": ("registry.csv", SAMPLE.read_bytes())})  # fmt: skip
    assert loaded.status_code == 200, loaded.text
    officer = ready(
        stack,
        create_user(stack, admin, "law_enforcement_mm", tmp_path, first_name="Dana",
                    last_name="Kowalczyk"),
    )  # fmt: skip
    by_name = {"first_name": "Daniel", "last_name": "Okafor", "birth_date": "1975-11-02"}
    wait_until(  # the name index is a moment behind the load
        lambda: api(stack, "POST", "/api/mm/verifications", officer, json=by_name).json()["cards"],
        15,
        "the registry's name index",
    )

    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)  # fmt: skip
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        sign_in(page, stack.url, officer.email, officer.password)
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Card verification")).to_be_visible()
        expect(nav.get_by_role("link", name="Patient search")).to_have_count(0)
        nav.get_by_role("link", name="Card verification").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Card verification")
        _fits_the_screen(page)
        shot(page, screenshots, "1-form")

        page.get_by_label("Card number").fill("mm-100001")
        page.get_by_role("button", name="Verify card").click()
        status = page.locator(".mm-status")
        expect(status).to_have_text("VALID")
        expect(page.locator(".mm-name")).to_have_text("Ana Rivera")
        expect(page.get_by_text("2030-05-31")).to_be_visible()
        expect(page.get_by_text("12 Elm St")).to_have_count(0)
        _fits_the_screen(page)
        box = status.bounding_box()
        assert box and box["y"] + box["height"] < PHONE["height"]  # seen without scrolling
        assert box["height"] >= 40  # large: readable at arm's length
        valid = shot(page, screenshots, "2-valid")
        assert share_of(valid, GREEN, box) > 0.08, "VALID is not shown in green"
        assert share_of(valid, RED, box) < 0.01

        page.get_by_role("link", name="Verify another card").click()
        page.get_by_label("First name").fill("Daniel")
        page.get_by_label("Last name").fill("Okafor")
        page.get_by_label("Date of birth").fill("1975-11-02")
        page.get_by_role("button", name="Verify card").click()
        expect(status).to_have_text("EXPIRED")
        expect(page.locator(".mm-name")).to_have_text("Daniel Okafor")
        expect(page.get_by_text("Grace Okafor")).to_be_visible()  # the caregiver
        _fits_the_screen(page)
        box = status.bounding_box()
        assert box and box["y"] + box["height"] < PHONE["height"]
        expired = shot(page, screenshots, "3-expired")
        assert share_of(expired, RED, box) > 0.08, "EXPIRED is not shown in red"
        assert share_of(expired, GREEN, box) < 0.01
        expect(page.locator(".mm-spelling")).to_have_count(0)  # typed as the registry writes it

        page.get_by_role("link", name="Verify another card").click()
        page.get_by_label("First name").fill("Dan")  # a nickname, forgiven as in patient search
        page.get_by_label("Last name").fill("okafor")
        page.get_by_label("Date of birth").fill("1975-11-02")
        page.get_by_role("button", name="Verify card").click()
        expect(page.locator(".mm-name")).to_have_text("Daniel Okafor")
        expect(page.locator(".mm-spelling")).to_have_text(
            "You entered Dan okafor: check this spelling against the person's ID."
        )
        _fits_the_screen(page)
        shot(page, screenshots, "4-spelled-otherwise")
        assert errors == []
    finally:
        context.close()


def _fits_the_screen(page: Page) -> None:
    """Nothing wider than a phone: no sideways scrolling."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px screen"
