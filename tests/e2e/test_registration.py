"""Applying for access as a prescriber does it, in a real browser: sign up with the email
address, choose the password from the link the SMTP server received, verify the address for
the application from the next message, fill the form (one field wrong first),
upload a document, accept the agreement, submit; an administrator approves it in the admin
pages; the prescriber signs in again and reaches the search page."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.test_sign_in import new_page, ready_administrator, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

PASSWORD = "Willow-Copper-Harbor-93!"
VALID_DEA = "AB1234563"
WRONG_DEA = "AB1234567"  # the check digit should be 3
VALID_NPI = "1234567893"


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"registration-{name}.png", full_page=True)


def photo_id(folder: Path) -> Path:
    """A small PNG, standing in for a scanned driver's license."""
    path = folder / "driver-license.png"
    image = Image.new("RGB", (320, 200), (225, 235, 245))
    for x in range(20, 120):
        for y in range(40, 160):
            image.putpixel((x, y), (120, 140, 170))
    image.save(path, format="PNG")
    return path


def link_in_mail(stack, email: str, path: str) -> str:
    """The first link to ``path`` in a message the SMTP server received for ``email``."""
    message = stack.mail.wait_for(lambda m: email in m.envelope_to and path in m.text, timeout=30)
    found = re.search(rf"https?://\S+{path}\S+", message.text)
    assert found, message.text
    return found.group(0)


def field(page: Page, label: str):
    """The input labelled ``label``, with or without its "required" asterisk."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}\s*\*?$"))


def fill_form(page: Page, email: str, last_name: str, dea: str) -> None:
    answers = {
        "First name": "Priya",
        "Last name": last_name,
        "Job title": "Physician",
        "Email address": email,
        "Phone number": "(860) 555-0100",
        "Fax number": "(860) 555-0199",
        "Address": "12 Elm Street",
        "City or town": "New Haven",
        "State": "CT",
        "ZIP code": "06510",
        "Controlled substance registration (CSP) number": "CSP.0012345",
        "DEA number": dea,
        "NPI": VALID_NPI,
        "State license number": "MD.045678",
        "Specialty": "Family medicine",
    }
    for label, value in answers.items():
        field(page, label).fill(value)
    page.get_by_label("Facility (optional)").fill("Elm Street Family Practice")
    for i in range(3):
        page.get_by_label(re.compile(f"^Security question {i + 1}")).select_option(index=i + 1)
        page.get_by_label(re.compile(f"^Answer {i + 1}")).fill(f"answer number {i + 1}")


def test_a_prescriber_applies_is_approved_and_reaches_the_search_page(
    stack, browser, screenshots, tmp_path
):
    last_name = "Okonkwo"
    email = f"{last_name.lower()}-{int(time.time() * 1000)}@example.org"
    context, page = new_page(browser)

    # 1. an account of one's own, from the home page: the address first, then the password
    # from the link emailed to it
    page.goto(stack.url + "/")
    page.get_by_role("link", name="Register for access").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register for access")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a link").click()
    expect(page).to_have_url(stack.url + "/register/sent")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    shot(page, screenshots, "00-check-your-email")
    page.goto(link_in_mail(stack, email, "/register/confirm/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose your password")
    expect(page.get_by_text(email)).to_be_visible()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD + "x")
    page.get_by_role("button", name="Save and Continue").click()
    expect(page.get_by_label("Type the password again")).to_have_attribute("aria-invalid", "true")
    shot(page, screenshots, "01-sign-up-mismatch")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    page.get_by_role("button", name="Save and Continue").click()

    # 2. the role; the verification email goes out
    expect(page).to_have_url(stack.url + "/application/role")
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose your role")
    shot(page, screenshots, "02-role")
    page.get_by_label("Prescriber").check()
    page.get_by_role("button", name="Save and Continue").click()
    expect(page).to_have_url(re.compile(r"/application\?notice=verification_sent$"))
    expect(page.get_by_text("We have sent you an email with a link")).to_be_visible()
    expect(page.get_by_text("Verify your email address with the link")).to_be_visible()
    shot(page, screenshots, "03-checklist")

    page.goto(link_in_mail(stack, email, "/register/verify/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Email address verified")
    shot(page, screenshots, "04-verified")
    page.get_by_role("link", name="Continue your application").click()
    expect(page).to_have_url(stack.url + "/application")

    # 3. the form: a DEA number with a wrong check digit is shown at its field
    page.get_by_role("link", name="Fill in the registration form").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Registration form")
    fill_form(page, email, last_name, WRONG_DEA)
    page.get_by_role("button", name="Save and Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    dea = field(page, "DEA number")
    expect(dea).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#dea_number-error")).to_be_visible()
    expect(dea).to_have_value(WRONG_DEA)  # what was typed is kept
    expect(field(page, "Specialty")).to_have_value("Family medicine")
    expect(field(page, "NPI")).not_to_have_attribute("aria-invalid", "true")
    shot(page, screenshots, "05-form-error")
    dea.fill(VALID_DEA)
    expect(page.get_by_label(re.compile("^Answer 1"))).to_have_value("answer number 1")
    page.get_by_role("button", name="Save and Continue").click()
    expect(page).to_have_url(re.compile(r"/application\?notice=form_saved$"))

    # 4. a document
    page.get_by_role("link", name="Upload supporting documents").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Supporting documents")
    page.get_by_role("button", name="Upload").click()  # nothing chosen
    expect(page.locator("#file-error")).to_be_visible()
    page.get_by_label("What is it?").select_option("Government photo ID")
    page.get_by_label("File", exact=True).set_input_files(photo_id(tmp_path))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Your document has been uploaded.")).to_be_visible()
    expect(page.get_by_role("link", name="driver-license.png")).to_be_visible()
    shot(page, screenshots, "06-documents")
    page.get_by_role("link", name="Continue to your application").click()

    # 5. the agreement, and the confirmation page to sign and keep
    page.get_by_role("link", name="Accept the User Agreement").click()
    expect(page.get_by_role("heading", name="User Responsibilities")).to_be_visible()
    page.get_by_role("button", name="Accept and Continue").click()
    expect(page.locator("#accept_agreement-error")).to_be_visible()
    page.get_by_label("I have read and accept the User Agreement").check()
    page.get_by_label("I accept the user responsibilities").check()
    shot(page, screenshots, "07-agreement")
    page.get_by_role("button", name="Accept and Continue").click()
    expect(page).to_have_url(re.compile(r"/application\?notice=agreement_accepted$"))
    with page.expect_download() as download:
        page.get_by_role("link", name="Download your confirmation page (PDF)").click()
    assert download.value.suggested_filename == "Registration confirmation.pdf"
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")

    # 6. submit
    expect(page.get_by_text("Everything is ready")).to_be_visible()
    shot(page, screenshots, "08-ready")
    page.get_by_role("button", name="Submit application").click()
    expect(page.get_by_text("Your application has been submitted")).to_be_visible()
    expect(page.get_by_text("Waiting for an administrator").first).to_be_visible()
    shot(page, screenshots, "09-submitted")

    # an administrator approves it
    _, admin_context, admin = ready_administrator(browser, stack, tmp_path, None)
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Registrations").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Registrations")
    row = admin.get_by_role("row").filter(has_text=email)
    deadline = time.monotonic() + 20  # the queue is a read model: reload until it shows
    while not row.is_visible() and time.monotonic() < deadline:
        admin.wait_for_timeout(500)
        admin.reload()
    expect(row).to_contain_text("Prescriber")
    shot(admin, screenshots, "10-queue")
    row.get_by_role("link", name=f"Priya {last_name}").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Priya {last_name}")
    expect(admin.get_by_text(VALID_DEA)).to_be_visible()
    expect(admin.get_by_role("link", name="driver-license.png")).to_be_visible()
    admin.get_by_role("button", name="Reject").click()  # a rejection needs its reason
    expect(admin.locator("#reject-reason-error")).to_be_visible()
    shot(admin, screenshots, "11-review")
    admin.get_by_role("button", name="Approve").click()
    expect(admin.get_by_text("The application was approved.")).to_be_visible()
    expect(admin.get_by_role("cell", name="Approved", exact=True)).to_be_visible()
    shot(admin, screenshots, "12-approved")
    admin_context.close()

    approved = stack.mail.wait_for(
        lambda m: email in m.envelope_to and "approved" in m.text.lower(), timeout=30
    )
    assert "/login" in approved.text

    # the prescriber signs in again and reaches the search page
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login\?signed_out=1$"))
    deadline = time.monotonic() + 30  # identity hears of the approval from a reaction
    while True:
        sign_in(page, stack.url, email, PASSWORD)
        page.wait_for_load_state()
        if page.url.endswith("/search") or time.monotonic() > deadline:
            break
        page.get_by_role("button", name="Sign out").click()
        time.sleep(1)
    expect(page).to_have_url(stack.url + "/search")
    expect(page.get_by_role("heading", level=1)).to_have_text("Patient search")
    expect(page.get_by_text("Prescriber", exact=False).first).to_be_visible()
    shot(page, screenshots, "13-search")
    # forms sent back with their errors answer 422; nothing else may go wrong in the page
    errors = [e for e in page.console_errors if "status of 422" not in e]  # type: ignore[attr-defined]
    assert not errors
    context.close()
