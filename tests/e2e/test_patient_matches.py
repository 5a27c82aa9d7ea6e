"""An administrator reviews the patient index in a real browser: a bulk load brings a record
close to a known person, the administrator compares the two and merges them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_sign_in import ready_administrator
from tests.helpers.asap import build, pha, record
from tests.helpers.commands import pmp_ok

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

PATIENT = {7: "OYELARAN", 8: "MARGARET", 12: "4 BIRCH LN", 14: "HARTFORD", 15: "CT",
           16: "06101", 18: "19610412", 19: "F"}  # fmt: skip


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"patient-matches-{name}.png", full_page=True)


def test_an_administrator_merges_a_possible_match(browser, stack, tmp_path, screenshots):
    file = tmp_path / "bulk.dat"
    marjorie = {**PATIENT, 8: "MARJORIE"}  # scores in the possible-match band: kept apart
    file.write_bytes(build([(pha(), record(701, pat=PATIENT) + record(702, pat=marjorie))]))
    pmp_ok("ingest", str(file), env=stack.env_for_commands())

    _, context, page = ready_administrator(browser, stack, tmp_path, screenshots=None)
    try:
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Patient matches"
        ).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Patient matches")
        row = page.get_by_role("row").filter(has_text="Possible match")
        for _ in range(30):  # the queue is a read model, a moment behind the load
            if row.count():
                break
            page.wait_for_timeout(500)
            page.reload()
        shot(page, screenshots, "1-queue")
        row.first.get_by_role("link", name="OYELARAN, MARJORIE").click()

        expect(page.get_by_role("heading", level=1)).to_have_text("OYELARAN, MARJORIE")
        expect(page.get_by_role("cell", name="OYELARAN, MARJORIE")).to_be_visible()
        expect(page.get_by_role("cell", name="OYELARAN, MARGARET")).to_be_visible()
        expect(page.get_by_text("first: different")).to_be_visible()  # why it scored so
        shot(page, screenshots, "2-compare")

        page.get_by_label("Note (optional)").fill("Same person: confirmed with the pharmacy")
        page.get_by_role("button", name="Merge: same person").click()
        expect(page.get_by_role("status")).to_contain_text("Decided")
        expect(page.get_by_text("Merged: same person")).to_be_visible()
        expect(page.get_by_role("button", name=re.compile("Merge"))).to_have_count(0)
        shot(page, screenshots, "3-decided")
    finally:
        context.close()
