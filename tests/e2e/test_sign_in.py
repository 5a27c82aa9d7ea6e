"""Signing in as people do it, in a real browser: the first sign-in from a posted letter, the
forced password change, setting up an authenticator app, signing out and in again, and an
account locked by wrong passwords."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.helpers.accounts import NEW_PASSWORD, create_first_administrator, letter_password
from tests.helpers.browser import new_page

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

PRESCRIBER_PASSWORD = "Otter-Quartz-Meadow-82#"
STEP = 30


def shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=folder / f"sign-in-{name}.png", full_page=True)


def sign_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def change_password(page: Page, current: str, new: str) -> None:
    page.get_by_label(re.compile("^Current password")).fill(current)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("Type the new password again").fill(new)
    page.get_by_role("button", name="Change password").click()


def enrol_authenticator(page: Page) -> tuple[str, int]:
    """Set up an app from the page's key, as a person typing it into their phone would.
    Returns the key and the time step of the code used."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your authenticator app")
    expect(page.get_by_role("img", name="QR code for your app")).to_be_visible()
    shown = page.locator("#secret-text").inner_text()
    secret = "".join(shown.removeprefix("Key:").split()).upper()
    totp = pyotp.TOTP(secret)
    if time.time() % STEP > STEP - 3:  # too close to the next step: wait for it
        time.sleep(STEP - time.time() % STEP + 0.5)
    step = int(time.time()) // STEP
    page.get_by_label("6-digit code").fill(totp.at(step * STEP))
    page.get_by_role("button", name="Confirm and finish").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Save your recovery codes")
    expect(page.get_by_text("You will see these codes only once")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(
        10
    )
    return secret, step


def ready_administrator(browser: Browser, stack, tmp_path: Path, screenshots: Path | None):
    """The first administrator, signed in through the pages from their letter."""
    admin = create_first_administrator(stack, tmp_path)
    context, page = new_page(browser)
    sign_in(page, stack.url, admin.email, admin.password)
    expect(page).to_have_url(stack.url + "/password/change")
    change_password(page, admin.password, NEW_PASSWORD)
    expect(page).to_have_url(re.compile(r"/account/mfa\?notice=password_changed$"))
    expect(page.get_by_text("Your role needs a one-time code")).to_be_visible()
    if screenshots:
        shot(page, screenshots, "05-admin-enrol-mfa")
    enrol_authenticator(page)
    page.get_by_role("link", name=re.compile("continue")).click()
    expect(page).to_have_url(stack.url + "/account")
    return admin, context, page


def create_prescriber(page: Page, url: str, tmp_path: Path, last_name: str, screenshots=None):
    """The administrator creates a prescriber; returns the email and the letter's password."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    page.get_by_role("link", name="Create a user account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create a user account")
    # a form sent half-filled shows each problem at its field
    page.get_by_role("button", name="Create account and download letter").click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page.get_by_label("Last name")).to_have_attribute("aria-invalid", "true")
    if screenshots:
        shot(page, screenshots, "06-admin-new-user-errors")
    email = f"{last_name.lower()}-{int(time.time() * 1000)}@example.org"
    page.get_by_label(re.compile("^Email address")).fill(email)
    page.get_by_label("First name").fill("Priya")
    page.get_by_label("Last name").fill(last_name)
    page.get_by_label("Role").select_option(label="Prescriber")
    page.get_by_label("Postal address for the letter").fill("12 Elm Street\nNew Haven, CT 06510")
    with page.expect_download() as download:
        page.get_by_role("button", name="Create account and download letter").click()
    letter = download.value
    assert letter.suggested_filename == f"Credential letter - {last_name}.pdf"
    password = letter_password(Path(letter.path()).read_bytes(), tmp_path)
    return email, password


def test_a_prescriber_signs_in_from_the_letter_and_sets_up_an_app(
    stack, browser, screenshots, tmp_path
):
    admin, admin_context, admin_page = ready_administrator(browser, stack, tmp_path, screenshots)
    email, temporary = create_prescriber(admin_page, stack.url, tmp_path, "Okafor", screenshots)
    admin_page.get_by_role("link", name="All users").click()
    # the list is a read model: it shows a new account a moment later, as a reload shows
    listed = admin_page.get_by_role("link", name="Okafor, Priya")
    deadline = time.monotonic() + 20
    while not listed.is_visible() and time.monotonic() < deadline:
        admin_page.wait_for_timeout(500)
        admin_page.reload()
    expect(listed).to_be_visible()
    shot(admin_page, screenshots, "07-admin-users")
    admin_context.close()

    context, page = new_page(browser)
    # a protected page sends an anonymous visitor to sign in, then back
    page.goto(stack.url + "/account")
    expect(page).to_have_url(stack.url + "/login?next=/account")
    expect(page.get_by_role("link", name="Forgot your password?")).to_be_visible()
    shot(page, screenshots, "01-login")

    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(temporary)
    page.get_by_role("button", name="Sign in").click()
    # the temporary password must be replaced before anything else
    expect(page).to_have_url(stack.url + "/password/change")
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    expect(page.get_by_text("temporary password from a letter")).to_be_visible()
    page.goto(stack.url + "/account")
    expect(page).to_have_url(stack.url + "/password/change")

    change_password(page, temporary, "password")
    expect(page).to_have_url(stack.url + "/password/change")
    errors = page.locator("#new_password-error")
    expect(errors).to_contain_text("Error:")
    expect(errors).to_contain_text("must contain an upper-case letter")
    expect(errors).to_contain_text("must contain a digit")
    expect(errors).to_contain_text("too common")
    expect(page.get_by_label("New password", exact=True)).to_have_attribute("aria-invalid", "true")
    shot(page, screenshots, "02-change-password-errors")

    page.get_by_label(re.compile("^Current password")).fill(temporary)
    page.get_by_label("New password", exact=True).fill(PRESCRIBER_PASSWORD)
    page.get_by_label("Type the new password again").fill(PRESCRIBER_PASSWORD + "x")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#confirm_password-error")).to_contain_text("not the same")

    change_password(page, temporary, PRESCRIBER_PASSWORD)
    expect(page).to_have_url(stack.url + "/account?notice=password_changed")
    expect(page.get_by_role("status")).to_contain_text("Your password has been changed.")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Users")
    ).to_have_count(0)
    expect(page.get_by_text("Priya Okafor").first).to_be_visible()
    shot(page, screenshots, "03-account")

    page.get_by_role("link", name="Set up an authenticator app").click()
    shot(page, screenshots, "04-enrol-mfa")
    secret, enrolled_step = enrol_authenticator(page)
    shot(page, screenshots, "08-recovery-codes")
    page.get_by_role("link", name=re.compile("continue")).click()
    expect(page).to_have_url(stack.url + "/account")

    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(stack.url + "/login?signed_out=1")
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in")
    ).to_be_visible()
    shot(page, screenshots, "09-signed-out")

    sign_in(page, stack.url, email, PRESCRIBER_PASSWORD)
    expect(page).to_have_url(stack.url + "/login/mfa")
    page.get_by_label("6-digit code").fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#code-error")).to_contain_text("not right")
    shot(page, screenshots, "10-mfa-wrong-code")
    # each 30-second code is accepted once: the one used to enrol cannot sign in again
    while int(time.time()) // STEP <= enrolled_step:
        time.sleep(STEP - time.time() % STEP + 0.5)
    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(stack.url + "/account")
    expect(page.get_by_text("Set up", exact=True)).to_be_visible()
    shot(page, screenshots, "11-account-after-mfa")
    # forms answer 401/422 on purpose; anything else (a CSP violation, say) is a fault
    console = page.console_errors  # type: ignore[attr-defined]
    assert [e for e in console if not e.startswith("Failed to load resource")] == []
    context.close()


def test_four_wrong_passwords_lock_the_account(stack, browser, screenshots, tmp_path):
    admin, admin_context, admin_page = ready_administrator(browser, stack, tmp_path, None)
    email, temporary = create_prescriber(admin_page, stack.url, tmp_path, "Lindqvist")

    context, page = new_page(browser)
    for attempt in range(4):
        sign_in(page, stack.url, email, f"Wrong-Guess-{attempt}!")
        expect(page.get_by_role("alert")).to_contain_text(
            "The email address or password is not right"
        )
        expect(page.get_by_label("Email address")).to_have_value(email)
    sign_in(page, stack.url, email, temporary)  # the right password, but locked now
    expect(page).to_have_url(stack.url + "/login")
    expect(page.get_by_role("alert")).to_contain_text(
        "The email address or password is not right, or the account is locked."
    )
    shot(page, screenshots, "12-locked-login")
    context.close()

    admin_page.goto(stack.url + "/admin/users?q=" + email)
    admin_page.get_by_role("link", name="Lindqvist, Priya").click()
    expect(admin_page.get_by_role("heading", level=1)).to_have_text("Priya Lindqvist")
    expect(admin_page.locator("#standing")).to_contain_text("Locked until")
    expect(admin_page.get_by_role("cell", name="Locked after repeated failures")).to_be_visible()
    shot(admin_page, screenshots, "13-admin-user-locked")

    # unlocking needs a reason; the error is shown at the form
    unlock = admin_page.locator("form.action", has=admin_page.get_by_role("heading", name="Unlock"))
    unlock.get_by_role("button", name="Unlock").click()
    expect(admin_page.get_by_role("alert")).to_contain_text("Give the reason")
    unlock = admin_page.locator("form.action", has=admin_page.get_by_role("heading", name="Unlock"))
    unlock.get_by_label("Reason").fill("Caller verified by phone, ticket 4411")
    unlock.get_by_role("button", name="Unlock").click()
    expect(admin_page.get_by_role("status")).to_contain_text("The account was unlocked.")
    expect(admin_page.locator("#standing")).not_to_contain_text("Locked")
    shot(admin_page, screenshots, "14-admin-user-unlocked")
    admin_context.close()


def test_a_forgotten_password_is_reset_with_the_security_questions(
    stack, browser, screenshots, tmp_path
):
    admin, admin_context, admin_page = ready_administrator(browser, stack, tmp_path, None)
    email, temporary = create_prescriber(admin_page, stack.url, tmp_path, "Moreau")
    admin_context.close()

    context, page = new_page(browser)
    sign_in(page, stack.url, email, temporary)
    change_password(page, temporary, PRESCRIBER_PASSWORD)
    expect(page).to_have_url(stack.url + "/account?notice=password_changed")

    # the same question twice is refused at the field
    questions = page.locator("form.questions")
    for i, (question, answer) in enumerate(
        [
            ("What was the name of your first pet?", "Biscuit"),
            ("What was the name of your first pet?", "Biscuit"),
            ("In what city were you born?", "Lyon"),
        ]
    ):
        questions.locator(f"#question_{i}").select_option(label=question)
        questions.locator(f"#answer_{i}").fill(answer)
    page.get_by_role("button", name="Save security questions").click()
    expect(page.locator("#question_1-error")).to_contain_text("not already chosen")
    page.locator("#question_1").select_option(label="What was your childhood nickname?")
    page.locator("#answer_1").fill("Jojo")
    page.get_by_role("button", name="Save security questions").click()
    expect(page.get_by_role("status")).to_contain_text("Your security questions have been saved.")
    page.get_by_role("button", name="Sign out").first.click()

    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a reset link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    shot(page, screenshots, "15-reset-email-sent")
    mail = stack.mail.wait_for(lambda m: email in m.envelope_to, timeout=20)
    link = re.search(r"http://\S+/password/reset/\S+", mail.text).group(0)

    page.goto(link)
    expect(page.get_by_label("What was the name of your first pet?")).to_be_visible()
    page.get_by_label("What was the name of your first pet?").fill("biscuit")
    page.get_by_label("What was your childhood nickname?").fill("JOJO")
    page.get_by_label("In what city were you born?").fill("Paris")
    page.get_by_label("New password", exact=True).fill("Lamp-Violet-Canyon-93%")
    page.get_by_label("Type the new password again").fill("Lamp-Violet-Canyon-93%")
    page.get_by_role("button", name="Reset password").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    shot(page, screenshots, "16-reset-wrong-answer")
    page.get_by_label("What was the name of your first pet?").fill("biscuit")
    page.get_by_label("What was your childhood nickname?").fill("JOJO")
    page.get_by_label("In what city were you born?").fill("lyon")
    page.get_by_label("New password", exact=True).fill("Lamp-Violet-Canyon-93%")
    page.get_by_label("Type the new password again").fill("Lamp-Violet-Canyon-93%")
    page.get_by_role("button", name="Reset password").click()
    expect(page).to_have_url(stack.url + "/login?reset=1")
    expect(page.get_by_role("status")).to_contain_text("Your password has been reset")
    sign_in(page, stack.url, email, "Lamp-Violet-Canyon-93%")
    expect(page).to_have_url(stack.url + "/search")  # a prescriber lands on patient search
    context.close()
