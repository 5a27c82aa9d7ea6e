"""Sending dispensation data as a pharmacy's data submitter does it, in a real browser: sign in
from the credential letter, choose a new password, send an ASAP file with one bad record, read
the outcome and the error report, download the report as CSV, and send the same file again."""

from __future__ import annotations

import csv
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_sign_in import change_password, new_page, sign_in
from tests.helpers.accounts import NEW_PASSWORD, create_first_administrator, create_user, ready
from tests.helpers.asap import build, pha, record

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

HYDROCODONE = "00029136533"  # in the CDC reference: hydrocodone 5 mg tablets
BAD_NDC = "12345"  # five digits: an NDC has eleven
PHONE = {"width": 390, "height": 844}


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"submissions-{name}.png", full_page=True)


def fact(page: Page, term: str):
    """The value shown for ``term`` in the outcome's list of facts."""
    terms = page.locator("dt", has_text=re.compile(rf"^{re.escape(term)}$"))
    return page.locator("dl.facts > div", has=terms).locator("dd")


def asap_file(folder: Path, file_type: str = "P") -> Path:
    """Three dispensations, the second with a bad NDC. Prescription numbers of their own, so
    no other test's file (the stack is shared) makes these records revisions or repeats."""
    tag = uuid.uuid4().hex[:6].upper()
    records = [
        record(1, dsp={2: f"RX{tag}1", 8: HYDROCODONE}),
        record(2, dsp={2: f"RX{tag}2", 8: BAD_NDC}),
        record(3, dsp={2: f"RX{tag}3", 8: HYDROCODONE}),
    ]
    path = folder / "march-2024.dat"
    path.write_bytes(
        build([(pha(), [s for r in records for s in r])], eol="\n", file_type=file_type)
    )
    return path


def test_a_data_submitter_sends_a_file_reads_its_error_report_and_sends_it_again(
    stack, browser, screenshots, tmp_path
):
    admin = ready(stack, create_first_administrator(stack, tmp_path))
    submitter = create_user(stack, admin, "data_submitter", tmp_path, last_name="Reyes")
    path = asap_file(tmp_path)
    lines = path.read_text().splitlines()
    bad_line = next(n for n, text in enumerate(lines, 1) if f"*{BAD_NDC}*" in text)

    context, page = new_page(browser)
    sign_in(page, stack.url, submitter.email, submitter.password)
    expect(page).to_have_url(stack.url + "/password/change")
    change_password(page, submitter.password, NEW_PASSWORD)
    expect(page).to_have_url(re.compile(r"\?notice=password_changed$"))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Send data").click()
    expect(page).to_have_url(stack.url + "/submissions")
    expect(page.get_by_role("heading", level=1)).to_have_text("Send dispensation data")
    shot(page, screenshots, "01-upload")

    # sending without choosing a file says so at the field
    page.get_by_role("button", name="Send file").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page.get_by_label("ASAP file")).to_have_attribute("aria-invalid", "true")
    shot(page, screenshots, "02-no-file")

    page.get_by_label("ASAP file").set_input_files(path)
    page.get_by_role("button", name="Send file").click()
    expect(page).to_have_url(re.compile(r"/submissions/[0-9a-f-]{36}$"))
    outcome_url = page.url
    expect(page.get_by_role("heading", level=1)).to_have_text("march-2024.dat")
    expect(page.get_by_text("Accepted", exact=True)).to_be_visible()
    expect(fact(page, "Records in the file")).to_have_text("3")
    expect(fact(page, "Recorded")).to_have_text("2")
    expect(fact(page, "Refused")).to_have_text("1")
    expect(fact(page, "NDC not in the drug reference")).to_have_count(0)
    expect(page.get_by_text("1 error.")).to_be_visible()
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(2)  # the header and one error
    headings = rows.nth(0).get_by_role("columnheader")
    expect(headings).to_have_text(
        ["Segment #", "Line", "Byte offset", "Segment", "Field", "Value", "Message"]
    )
    cells = rows.nth(1).get_by_role("cell")
    expect(cells.nth(0)).to_have_text(str(bad_line))  # one segment a line in this file
    expect(cells.nth(1)).to_have_text(str(bad_line))
    expect(cells.nth(2)).to_have_text(re.compile(r"^\d+$"))
    expect(cells.nth(3)).to_have_text("DSP")
    expect(cells.nth(4)).to_have_text("DSP08")
    expect(cells.nth(5)).to_have_text(BAD_NDC)
    expect(cells.nth(6)).to_contain_text("11-digit NDC")
    byte_offset, message = cells.nth(2).inner_text(), cells.nth(6).inner_text()
    shot(page, screenshots, "03-outcome")

    # on a phone the page does not scroll sideways: each error is a block of labelled lines
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    cells.nth(6).scroll_into_view_if_needed()
    expect(cells.nth(6)).to_be_in_viewport(ratio=1)  # the whole message, in view
    box = cells.nth(6).bounding_box()
    assert box and box["x"] + box["width"] <= PHONE["width"]
    shot(page, screenshots, "03-outcome-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    with page.expect_download() as download:
        page.get_by_role("link", name="Download as CSV").click()
    report = download.value
    assert report.suggested_filename.endswith(".csv")
    with open(report.path(), newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert lines == [
        ["Segment #", "Line", "Byte offset", "Segment", "Field", "Value", "Message", "Severity"],
        [str(bad_line), str(bad_line), byte_offset, "DSP", "DSP08", BAD_NDC, message, "error"],
    ]

    # the same file again is recognised: the first outcome, not counted twice
    page.get_by_role("link", name="Send another file").click()
    expect(page).to_have_url(stack.url + "/submissions")
    page.get_by_label("ASAP file").set_input_files(path)
    page.get_by_role("button", name="Send file").click()
    expect(page).to_have_url(outcome_url + "?duplicate=1")
    expect(page.get_by_role("status")).to_contain_text("This file was sent before")
    expect(fact(page, "Recorded")).to_have_text("2")
    shot(page, screenshots, "04-repeat")

    # the only failed request is the send without a file (422, by design)
    errors = page.console_errors  # type: ignore[attr-defined]
    assert [e for e in errors if "status of 422" not in e] == [] and len(errors) == 1
    context.close()


def test_a_test_file_shows_what_it_would_have_done_and_that_nothing_was_recorded(
    stack, browser, screenshots, tmp_path
):
    """Issue 24: a pharmacy trying its software sends a test file (TH07 = T) and reads its
    whole report, each count saying what would have happened."""
    admin = ready(stack, create_first_administrator(stack, tmp_path))
    submitter = ready(stack, create_user(stack, admin, "data_submitter", tmp_path))
    path = asap_file(tmp_path, file_type="T")

    context, page = new_page(browser, stack, submitter)
    page.goto(stack.url + "/submissions")
    page.get_by_label("ASAP file").set_input_files(path)
    page.get_by_role("button", name="Send file").click()
    expect(page).to_have_url(re.compile(r"/submissions/[0-9a-f-]{36}$"))
    expect(page.locator(".badge")).to_have_text(["Test file", "Checked: nothing recorded"])
    notice = page.get_by_role("status")
    expect(notice).to_contain_text(
        "Test file: 2 records would have been accepted, 1 refused; nothing was recorded."
    )
    expect(notice).to_contain_text("recorded as new")
    expect(fact(page, "Records in the file")).to_have_text("3")
    expect(fact(page, "Would be recorded")).to_have_text("2")
    expect(fact(page, "Would be refused")).to_have_text("1")
    expect(page.get_by_role("table").get_by_role("row")).to_have_count(2)  # one error
    shot(page, screenshots, "05-test-file")
    assert page.console_errors == []  # type: ignore[attr-defined]
    context.close()
