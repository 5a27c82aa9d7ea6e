"""A prescriber looks a patient up in a real browser: attests the purpose, searches with a
misspelled first name, chooses between two people with the same name and date of birth,
reads the Patient History Report and downloads it as a PDF."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_sign_in import new_page, sign_in
from tests.helpers.accounts import api, create_first_administrator, create_user, ready
from tests.helpers.asap import build, pha, record
from tests.helpers.commands import pmp_ok
from tests.helpers.pdf import poppler, words_of
from tests.helpers.processes import wait_until
from tests.helpers.program_day import program_today

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

# The same name and date of birth, told apart by gender and address.
MARISOL = {
    7: "QUENNEVILLE",
    8: "MARISOL",
    12: "9 WHARF ST",
    14: "STONINGTON",
    15: "CT",
    16: "06378",
    18: "19830721",
    19: "F",
}
MARISOL_M = {**MARISOL, 12: "58 PEQUOT TRL", 14: "LEDYARD", 16: "06339", 19: "M"}
BORN = "1983-07-21"


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"patient-search-{name}.png", full_page=True)


def fill(rx: int, patient: dict, days_ago: int, quantity: int) -> list:
    """A 30-day oxycodone 10 mg fill (1.5 MME/mg) ``days_ago`` days ago."""
    when = (program_today() - timedelta(days=days_ago)).strftime("%Y%m%d")
    return record(rx, pat=patient, dsp={3: when, 5: when, 8: "00093002401", 9: str(quantity)})


def test_a_prescriber_finds_a_patient_and_downloads_the_report(
    browser, stack, tmp_path, screenshots
):
    file = tmp_path / "patients.dat"
    fills = fill(801, MARISOL, 4, 60) + fill(802, MARISOL, 75, 120) + fill(803, MARISOL_M, 20, 60)
    file.write_bytes(build([(pha(), fills)]))
    pmp_ok("ingest", str(file), env=stack.env_for_commands())
    admin = ready(stack, create_first_administrator(stack, tmp_path))
    prescriber = ready(
        stack,
        create_user(
            stack, admin, "prescriber", tmp_path, first_name="Rosalind", last_name="Achter"
        ),
    )
    body = {
        "criteria": {"first_name": "MARISOL", "last_name": "QUENNEVILLE", "birth_date": BORN},
        "purpose": {"kind": "treating", "attested": True},
    }

    def alerted() -> bool:  # the read model and the alerts are a moment behind the load
        found = api(stack, "POST", "/api/searches", prescriber, json=body).json()
        stonington = [p for p in found["persons"] if "STONINGTON" in " ".join(p["addresses"])]
        if len(found["persons"]) != 2 or not stonington:
            return False
        report = api(
            stack,
            "GET",
            f"/api/searches/{found['search_id']}/report",
            prescriber,
            params={"person": stonington[0]["person_id"]},
        ).json()
        return bool(report["alerts"]["items"])

    wait_until(alerted, 60, "both patients and the alert in the query read model", 0.5)

    context, page = new_page(browser)
    try:
        sign_in(page, stack.url, prescriber.email, prescriber.password)
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Patient search"
        ).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Patient search")
        page.get_by_label("First name", exact=True).fill("Marisoll")  # one letter too many
        page.get_by_label("Last name").fill("Quenneville")
        page.get_by_label("Date of birth").fill(BORN)
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_role("alert")).to_contain_text("attest")  # not yet attested
        shot(page, screenshots, "1-form-not-attested")
        page.console_errors.clear()  # type: ignore[attr-defined]  # that 422 was expected

        page.get_by_label(re.compile("I attest that this search is for")).check()
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Multiple patients identified")
        rows = page.get_by_role("row").filter(has_text="QUENNEVILLE, MARISOL")
        expect(rows).to_have_count(2)
        expect(page.get_by_label("Look-back")).to_have_value("12")
        shot(page, screenshots, "2-candidates")
        rows.filter(has_text="STONINGTON").get_by_role("checkbox").check()
        page.get_by_role("button", name="View report").click()

        expect(page.get_by_role("heading", level=1)).to_have_text("Patient History Report")
        alert = page.locator(".alert-list .alert").filter(has_text="High daily MME")
        expect(alert).to_contain_text("Caution")  # 60 MME/day 75 days ago
        expect(alert).to_contain_text("Peak 60.00 MME/day")
        expect(page.get_by_text("9 WHARF ST")).to_be_visible()
        expect(page.get_by_text("LEDYARD")).to_have_count(0)  # the other person is not in it
        figures = page.locator(".figure")
        expect(figures.filter(has_text="Dispensations")).to_contain_text("2")
        expect(figures.filter(has_text="MME/day today")).to_contain_text("30")
        expect(figures.filter(has_text="Peak MME/day")).to_contain_text("60")
        chart = page.get_by_role("img", name=re.compile("Morphine milligram equivalents"))
        expect(chart).to_be_visible()
        expect(chart.locator("text", has_text="90 MME/day")).to_have_count(1)
        active = page.get_by_role("row").filter(has_text="Active").filter(has_text="OXYCODONE")
        expect(active).to_have_count(1)
        expect(page.get_by_text("Requested by Rosalind Achter")).to_be_visible()
        shot(page, screenshots, "3-report")
        assert not page.console_errors  # type: ignore[attr-defined]

        alert.get_by_text("Acknowledge and snooze for me").click()
        alert.get_by_label("Reason").fill("Cancer care")
        alert.get_by_label("Snooze for").select_option("3")
        alert.get_by_role("button", name="Acknowledge").click()
        expect(
            page.get_by_role("status").filter(has_text="set aside for you until")
        ).to_be_visible()
        for _ in range(40):  # within seconds, the alert moves to those the prescriber set aside
            page.reload()
            if page.get_by_text("1 alert you set aside").count():
                break
            page.wait_for_timeout(250)
        expect(page.get_by_text("1 alert you set aside")).to_be_visible()
        expect(page.locator(".alert-list .alert-caution")).to_have_count(0)
        shot(page, screenshots, "3b-acknowledged")

        with page.expect_download() as download:
            page.get_by_role("link", name="Download PDF").click()
        assert download.value.suggested_filename == "Patient History Report.pdf"
        pdf = tmp_path / "report.pdf"
        download.value.save_as(pdf)
    finally:
        context.close()

    poppler("pdftoppm", "-r", "60", "-png", pdf, screenshots / "patient-search-4-pdf")
    assert list(screenshots.glob("patient-search-4-pdf*.png"))
    words = words_of(pdf)
    assert "QUENNEVILLE, MARISOL" in words
    assert "OXYCODONE HCL" in words
    assert "Rosalind Achter" in words  # the watermark: who printed it
    assert "LEDYARD" not in words
