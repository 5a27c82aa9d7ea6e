"""Registering for access through the JSON API of a running stack: applicants, supervisors of
delegates and administrators, with the emails the stack's SMTP server receives."""

from __future__ import annotations

import time
from datetime import date

import pytest

from pmp.documents import MAX_BYTES
from services.identity.roles import Permission, Role
from tests.helpers.accounts import User, api, create_first_administrator, ready
from tests.helpers.registration import (
    VALID_DEA,
    WRONG_DEA,
    accept_agreement,
    approve,
    complete_application,
    expect,
    messages_to,
    mine,
    png_bytes,
    registered,
    save_form,
    sign_up,
    start,
    submit,
    upload,
    valid_form,
    verification_link,
    wait_for_mail,
    wait_for_principal,
)

SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
APPROVED = "Your CPMRS application is approved"


@pytest.fixture(scope="session")
def admin(stack, tmp_path_factory) -> User:
    return ready(stack, create_first_administrator(stack, tmp_path_factory.mktemp("letters")))


def queued(stack, admin: User, account_id: str) -> list[dict]:
    """The review queue once it shows ``account_id``."""
    return until(
        lambda: queue(stack, admin),
        lambda items: account_id in [item["account_id"] for item in items],
    )


def until(read, ok, timeout: float = 30):
    """``read()`` once ``ok`` accepts it: lists are read models, a moment behind events."""
    deadline = time.monotonic() + timeout
    while not ok(found := read()):
        assert time.monotonic() < deadline, f"still {found!r}"
        time.sleep(0.2)
    return found


def not_(items) -> bool:
    return not items


def queue(stack, admin: User, status: str = "submitted") -> list[dict]:
    """Every item of the review queue with ``status``, page after page."""
    items, page = [], 1
    while True:
        found = expect(
            api(stack, "GET", f"/api/registrations?status={status}&page={page}", admin), 200
        )
        items += found["items"]
        if page >= found["pages"]:
            return items
        page += 1


def test_a_prescriber_applies_through_the_api_and_is_approved(stack, admin):
    user = sign_up(stack)
    assert (
        Permission.PATIENT_SEARCH
        not in wait_for_principal(stack, user, lambda p: True)["permissions"]
    )
    assert api(stack, "GET", "/api/registration", user).status_code == 404  # not yet

    started = start(stack, user, "prescriber")
    assert started["email"] == user.email and started["status"] == "draft"
    assert not started["email_verified"] and not started["can_submit"]

    # the verification link works once
    link = verification_link(stack, user.email)
    verified = expect(stack.post(f"/api/registration/verification/{link}"), 200)
    assert verified == {"account_id": user.account_id, "verified": True}
    again = stack.post(f"/api/registration/verification/{link}")
    assert again.status_code == 422, again.text
    assert again.headers["Content-Type"] == "application/problem+json"
    assert mine(stack, user)["email_verified"]

    # a DEA number with a wrong check digit is named; nothing is saved
    wrong = save_form(stack, user, valid_form("prescriber", user.email, dea_number=WRONG_DEA))
    assert wrong.status_code == 422, wrong.text
    assert list(wrong.json()["errors"]) == ["dea_number"], wrong.json()
    assert mine(stack, user)["form"] == {}
    saved = expect(save_form(stack, user, valid_form("prescriber", user.email)), 200)
    assert saved["form"]["dea_number"] == VALID_DEA

    png = png_bytes()
    uploaded = expect(upload(stack, user, png), 201)
    [document] = uploaded["documents"]
    assert document["content_type"] == "image/png" and document["size"] == len(png)
    own = api(stack, "GET", f"/api/registration/documents/{document['document_id']}", user)
    assert own.status_code == 200 and own.content == png
    assert own.headers["Content-Type"] == "image/png"
    assert own.headers["Content-Disposition"].startswith("attachment")
    assert own.headers["X-Content-Type-Options"] == "nosniff"

    assert accept_agreement(stack, user)["can_submit"]
    pdf = api(stack, "GET", "/api/registration/confirmation.pdf", user)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    submitted = expect(submit(stack, user), 200)
    assert submitted["status"] == "submitted" and not submitted["editable"]

    # the administrators' queue, oldest first
    items = queued(stack, admin, user.account_id)
    times = [item["submitted_at"] for item in items]
    assert times == sorted(times)
    details = expect(api(stack, "GET", f"/api/registrations/{user.account_id}", admin), 200)
    assert "ApplicationSubmitted" in [event["type"] for event in details["history"]]
    copy = api(
        stack,
        "GET",
        f"/api/registrations/{user.account_id}/documents/{document['document_id']}",
        admin,
    )
    assert copy.status_code == 200 and copy.content == png

    approved = approve(stack, admin, user)
    assert approved["renewal_due"] and approved["approved_at"]
    principal = wait_for_principal(
        stack, user, lambda p: Permission.PATIENT_SEARCH in p["permissions"]
    )
    assert principal["role"] == Role.PRESCRIBER
    assert principal["access_until"] == approved["renewal_due"]
    message = wait_for_mail(stack, user.email, APPROVED)
    assert approved["renewal_due"][:4] in message.text
    assert len(messages_to(stack, user.email, APPROVED)) == 1
    assert len(messages_to(stack, user.email, "Verify your email address")) == 1


@SQLITE
def test_an_unverified_address_cannot_submit_until_verified(stack):
    user = sign_up(stack)
    start(stack, user, "pharmacist")
    expect(save_form(stack, user, valid_form("pharmacist", user.email)), 200)
    expect(upload(stack, user, png_bytes()), 201)
    accept_agreement(stack, user)

    refused = submit(stack, user)
    assert refused.status_code == 422, refused.text
    assert "Verify your email address" in refused.json()["detail"]
    assert mine(stack, user)["status"] == "draft"

    # a new link: the second email; it works
    expect(api(stack, "POST", "/api/registration/verification", user), 200)
    deadline = time.monotonic() + 30
    while len(messages_to(stack, user.email, "Verify your email address")) < 2:
        assert time.monotonic() < deadline, "no second verification email"
        time.sleep(0.1)
    link = verification_link(stack, user.email)
    expect(stack.post(f"/api/registration/verification/{link}"), 200)
    assert expect(submit(stack, user), 200)["status"] == "submitted"


@SQLITE
def test_more_information_is_requested_and_the_application_is_sent_again(stack, admin):
    user = complete_application(stack, "pharmacist")
    expect(submit(stack, user), 200)
    path = f"/api/registrations/{user.account_id}/request-information"
    missing = api(stack, "POST", path, admin, json={})
    assert missing.status_code == 422 and "message" in missing.json()["errors"]

    wanted = "Please upload your state pharmacist license."
    asked = expect(api(stack, "POST", path, admin, json={"message": wanted}), 200)
    assert asked["status"] == "information_requested"
    message = wait_for_mail(stack, user.email, "needs more information")
    assert wanted in message.text

    view = mine(stack, user)
    assert view["editable"] and view["information_request"] == wanted
    expect(upload(stack, user, png_bytes((80, 50)), "license.png", "Professional license"), 201)
    changed = valid_form("pharmacist", user.email, job="Staff pharmacist")
    assert expect(save_form(stack, user, changed), 200)["form"]["job"] == "Staff pharmacist"
    assert expect(submit(stack, user), 200)["status"] == "submitted"
    queued(stack, admin, user.account_id)


@SQLITE
def test_a_rejection_with_its_reason_is_emailed(stack, admin):
    user = complete_application(stack, "law_enforcement")
    expect(submit(stack, user), 200)
    path = f"/api/registrations/{user.account_id}/reject"
    assert api(stack, "POST", path, admin, json={}).status_code == 422  # no reason
    reason = "The badge number does not match the agency's roster."
    rejected = expect(api(stack, "POST", path, admin, json={"reason": reason}), 200)
    assert rejected["status"] == "rejected" and rejected["rejection_reason"] == reason
    message = wait_for_mail(stack, user.email, "was not approved")
    assert reason in message.text
    assert api(stack, "POST", path, admin, json={"reason": reason}).status_code == 409
    principal = wait_for_principal(stack, user, lambda p: True)
    assert principal["role"] == Role.APPLICANT


@SQLITE
def test_a_delegate_is_approved_by_their_supervisor_then_by_an_administrator(stack, admin):
    supervisor = registered(stack, admin, "prescriber")
    wait_for_principal(
        stack, supervisor, lambda p: Permission.DELEGATE_SUPERVISE in p["permissions"]
    )
    unknown = sign_up(stack)
    start(stack, unknown, "delegate")
    nobody = valid_form("delegate", unknown.email, supervisor_email="nobody@example.org")
    refused = save_form(stack, unknown, nobody)
    assert refused.status_code == 422 and "supervisor_email" in refused.json()["errors"]

    delegate = complete_application(stack, "delegate", supervisor_email=supervisor.email)
    waiting = expect(submit(stack, delegate), 200)
    assert waiting["status"] == "awaiting_supervisor"
    assert waiting["supervisor"]["account_id"] == supervisor.account_id
    wait_for_mail(stack, supervisor.email, "A delegate asks you")
    assert delegate.account_id not in [item["account_id"] for item in queue(stack, admin)]

    waiting_for_me = until(
        lambda: expect(api(stack, "GET", "/api/delegates", supervisor), 200)["items"],
        lambda items: [item["account_id"] for item in items] == [delegate.account_id],
    )
    assert waiting_for_me[0]["name"]
    assert api(stack, "GET", "/api/delegates", delegate).status_code == 403
    decline = f"/api/delegates/{delegate.account_id}/decline"
    assert api(stack, "POST", decline, supervisor, json={}).status_code == 422
    path = f"/api/delegates/{delegate.account_id}/approve"
    decided = expect(api(stack, "POST", path, supervisor), 200)
    assert decided["status"] == "submitted"
    assert decided["supervisor"]["decision"] == "approved"
    until(lambda: expect(api(stack, "GET", "/api/delegates", supervisor), 200)["items"], not_)

    queued(stack, admin, delegate.account_id)
    approve(stack, admin, delegate)
    principal = wait_for_principal(stack, delegate, lambda p: p["role"] == Role.DELEGATE)
    assert Permission.PATIENT_SEARCH in principal["permissions"]


@SQLITE
def test_an_applicant_sees_only_their_own_application(stack):
    a = complete_application(stack, "prescriber")
    b = complete_application(stack, "pharmacist")
    [document] = mine(stack, b)["documents"]
    document_id = document["document_id"]

    assert api(stack, "GET", f"/api/registrations/{b.account_id}", a).status_code == 403
    theirs = f"/api/registrations/{b.account_id}/documents/{document_id}"
    assert api(stack, "GET", theirs, a).status_code in {403, 404}
    own_path = f"/api/registration/documents/{document_id}"
    assert api(stack, "GET", own_path, a).status_code == 404  # not among A's documents
    assert api(stack, "DELETE", own_path, a).status_code == 404  # not A's to remove
    assert api(stack, "GET", own_path, b).status_code == 200  # still there

    assert api(stack, "GET", "/api/registrations", a).status_code == 403
    assert api(stack, "GET", "/api/renewal-policy", a).status_code == 403
    assert api(stack, "POST", f"/api/registrations/{b.account_id}/approve", a).status_code == 403
    principal = expect(api(stack, "GET", "/api/session", a), 200)
    assert Permission.PATIENT_SEARCH not in principal["permissions"]
    assert Permission.REGISTRATION_APPLY in principal["permissions"]
    search = stack.get("/search", cookies={"pmp_session": a.token}, allow_redirects=False)
    assert search.status_code == 403


@SQLITE
def test_uploads_are_checked_by_their_content_and_size(stack):
    user = sign_up(stack)
    start(stack, user, "prescriber")

    text = upload(stack, user, b"Just some text, not a PDF.\n" * 20, "license.pdf")
    assert text.status_code == 422, text.text
    assert "not a PDF, JPEG or PNG" in text.json()["errors"]["file"]
    assert mine(stack, user)["documents"] == []

    too_big = png_bytes() + b"\0" * (MAX_BYTES + 1 - len(png_bytes()))
    refused = upload(stack, user, too_big, "scan.png")
    assert refused.status_code == 413, refused.text
    assert "10 MB" in refused.json()["detail"]
    assert mine(stack, user)["documents"] == []

    huge = upload(stack, user, b"\0" * (12 * 1024 * 1024), "huge.png")  # refused unread
    assert huge.status_code == 413, huge.text
    assert "10 MB" in huge.json()["detail"]

    nothing = api(stack, "POST", "/api/registration/documents", user, data={"description": "x"})
    assert nothing.status_code == 422 and "file" in nothing.json()["errors"]

    renamed = expect(upload(stack, user, png_bytes(), "license.pdf"), 201)
    [document] = renamed["documents"]
    assert document["content_type"] == "image/png"
    got = api(stack, "GET", f"/api/registration/documents/{document['document_id']}", user)
    assert got.headers["Content-Type"] == "image/png"

    removed = expect(
        api(stack, "DELETE", f"/api/registration/documents/{document['document_id']}", user), 200
    )
    assert removed["documents"] == []


@SQLITE
def test_renewal_years_move_an_approved_users_renewal_date(stack, admin):
    user = registered(stack, admin, "prescriber")
    before = expect(api(stack, "GET", f"/api/registrations/{user.account_id}", admin), 200)
    policy = expect(api(stack, "GET", "/api/renewal-policy", admin), 200)["years"]
    years = policy["prescriber"]
    other = years + 1 if years < 10 else years - 1
    assert (
        api(stack, "PUT", "/api/renewal-policy", admin, json={"years": {"nope": 2}}).status_code
        == 422
    )
    try:
        changed = expect(
            api(stack, "PUT", "/api/renewal-policy", admin, json={"years": {"prescriber": other}}),
            200,
        )
        assert changed["years"]["prescriber"] == other
        after = expect(api(stack, "GET", f"/api/registrations/{user.account_id}", admin), 200)
        due_before = date.fromisoformat(before["renewal_due"])
        due_after = date.fromisoformat(after["renewal_due"])
        assert due_after.year - due_before.year == other - years
        wait_for_principal(stack, user, lambda p: p["access_until"] == after["renewal_due"])
    finally:
        api(stack, "PUT", "/api/renewal-policy", admin, json={"years": {"prescriber": years}})


@SQLITE
def test_a_renewal_confirms_the_details_and_the_agreement_and_is_approved(stack, admin):
    user = registered(stack, admin, "prescriber")
    renewal = expect(api(stack, "POST", "/api/registration/renewal", user), 200)
    assert (renewal["kind"], renewal["status"], renewal["agreement"]) == ("renewal", "draft", None)
    assert any("confirm your details" in m for m in renewal["missing"])
    assert any("User Agreement" in m for m in renewal["missing"])
    assert submit(stack, user).status_code == 422  # not before re-attesting

    form = mine(stack, user)["form"]
    expect(save_form(stack, user, {**form, "job": "Attending physician"}), 200)
    accept_agreement(stack, user)
    assert expect(submit(stack, user), 200)["status"] == "submitted"
    queued(stack, admin, user.account_id)

    approved = approve(stack, admin, user)
    assert (approved["kind"], approved["form"]["job"]) == ("renewal", "Attending physician")
    wait_for_mail(stack, user.email, "Your CPMRS renewal is approved")
    principal = wait_for_principal(stack, user, lambda p: p["access_until"] is not None)
    assert Permission.PATIENT_SEARCH in principal["permissions"]
    assert not principal["renewal_due"]
