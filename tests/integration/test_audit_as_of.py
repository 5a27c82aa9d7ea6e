"""'As of' replay on the running stack: the report a prescriber viewed is rebuilt as they saw
it, though the patient's history has grown since; the rebuild is itself recorded; a user's
registration is shown as it stood before and after approval."""

from __future__ import annotations

import re

import pytest

from services.identity.roles import Permission
from tests.helpers import registration
from tests.helpers.asap import build, pha
from tests.helpers.pdf import words_of
from tests.helpers.processes import wait_until
from tests.helpers.program_day import program_today
from tests.integration.test_audit_acceptance import activity
from tests.integration.test_audit_history import history
from tests.integration.test_patient_search_api import dispensation, filled, found, report
from tests.integration.test_submissions_api import send

WINIFRED = {7: "ASOFSON", 8: "WINIFRED", 12: "9 ARCHIVE WAY", 14: "MYSTIC", 15: "CT",
            16: "06355", 18: "19610214", 19: "F"}  # fmt: skip


def fills_shown(body: dict) -> list[str]:
    return [line["filled"] for line in body["dispensations"]]


def reported(stack, user, search_id: str, person: str) -> dict:
    response = report(stack, user, search_id, [person])
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.timeout(300)
def test_the_report_a_prescriber_viewed_is_rebuilt_as_they_saw_it(
    stack, people, auditor, tmp_path
) -> None:
    prescriber = people["prescriber"]
    sent = send(stack, people["pharmacy"], build([(pha(), dispensation(951, WINIFRED, 20))]),
                "asof1.dat")  # fmt: skip
    assert sent.json()["counts"]["recorded"] == 1, sent.text
    first = wait_until(
        lambda: (
            (f := found(stack, prescriber, "WINIFRED", "ASOFSON", "1961-02-14"))["persons"] and f
        ),
        60,
        "Winifred in the query read model",
    )
    person = first["persons"][0]["person_id"]
    seen = reported(stack, prescriber, first["search_id"], person)
    assert len(seen["dispensations"]) == 1

    sent = send(stack, people["pharmacy"], build([(pha(), dispensation(952, WINIFRED, 3))]),
                "asof2.dat")  # fmt: skip
    assert sent.json()["counts"]["recorded"] == 1, sent.text

    def grown() -> dict | bool:
        again = found(stack, prescriber, "WINIFRED", "ASOFSON", "1961-02-14")
        now = reported(stack, prescriber, again["search_id"], person)
        return len(now["dispensations"]) == 2 and now

    now = wait_until(grown, 60, "the second fill in the report")
    viewed = wait_until(
        lambda: (
            (
                h := history(
                    stack, auditor, patient=person, type="PatientReportViewed", order="oldest"
                )
            )["total"]
            >= 2
            and h["entries"][0]
        ),  # fmt: skip
        60,
        "the report viewed in the audit trail",
    )
    entry = viewed["n"]

    def rebuilt() -> dict | bool:
        response = stack.get(f"/api/audit/entries/{entry}/as-seen", headers=auditor.headers())
        assert response.status_code == 200, response.text
        body = response.json()
        return body["dispensations"] and body

    as_seen = wait_until(rebuilt, 60, "the trail holding what the prescriber saw")
    assert fills_shown(as_seen) == fills_shown(seen) == [date_of(20)]
    assert fills_shown(now) == [date_of(3), date_of(20)]
    assert as_seen["seen_by"]["account_id"] == prescriber.account_id
    assert as_seen["requester"]["account_id"] == auditor.account_id
    assert as_seen["as_of"] == viewed["metadata"]["occurred_at"]

    pdf = stack.get(f"/api/audit/entries/{entry}/as-seen.pdf", headers=auditor.headers())
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    (tmp_path / "as-seen.pdf").write_bytes(pdf.content)
    text = words_of(tmp_path / "as-seen.pdf")
    assert "Patient History Report as of" in text and "ASOFSON, WINIFRED" in text
    assert f"seen by {as_seen['seen_by']['name']}" in text
    assert date_of(20) in text and date_of(3) not in text

    recorded = wait_until(
        lambda: (
            (h := history(stack, auditor, source="audit", type="ReportRebuilt", patient=person))[
                "total"
            ]
            >= 2
            and h
        ),  # fmt: skip
        60,
        "the rebuilds recorded under the patient",
    )
    assert {e["metadata"]["actor_id"] for e in recorded["entries"]} == {auditor.account_id}
    assert {e["data"]["entry"] for e in recorded["entries"]} == {entry}

    page = stack.get(
        "/audit/activity", params={"account": prescriber.account_id}, cookies=auditor.cookies()
    )
    assert f'href="/audit/entries/{entry}/as-seen.pdf"' in page.text
    download = stack.get(f"/audit/entries/{entry}/as-seen.pdf", cookies=auditor.cookies())
    assert download.status_code == 200 and download.content.startswith(b"%PDF")
    refused = stack.get(f"/api/audit/entries/{entry - 1}/as-seen", headers=auditor.headers())
    assert refused.status_code == 422 and refused.json()["detail"].startswith("entry:")


def date_of(days_ago: int) -> str:
    raw = filled(days_ago)
    return f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"


@pytest.mark.timeout(300)
def test_a_registration_is_shown_as_it_stood_before_and_after_approval(
    stack, people, auditor
) -> None:
    user = registration.complete_application(stack, "prescriber")
    registration.expect(registration.submit(stack, user), 200)
    registration.approve(stack, people["admin"], user)
    registration.wait_for_principal(
        stack, user, lambda p: Permission.PATIENT_SEARCH in p["permissions"]
    )
    steps = wait_until(
        lambda: (
            (found := activity(stack, auditor, user.account_id))
            and any(e["type"] == "ApplicationApproved" for e in found)
            and found
        ),
        60,
        "the approval in the audit trail",
    )
    moments = {e["type"]: e["metadata"]["occurred_at"] for e in steps}

    def as_of(at: str) -> dict | None:
        response = stack.get(
            f"/api/audit/as-of/registrations/{user.account_id}",
            headers=auditor.headers(), params={"at": at},
        )  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()["registration"]

    assert as_of("2000-01-01T00:00:00+00:00") is None
    assert as_of(moments["ApplicationSubmitted"])["status"] == "submitted"
    approved = as_of(moments["ApplicationApproved"])
    assert approved["status"] == "approved" and approved["email"] == user.email

    page = stack.get(
        "/audit/as-of", params={"account": user.account_id, "day": program_today().isoformat()},
        cookies=auditor.cookies(),
    )  # fmt: skip
    assert page.status_code == 200, page.text
    assert re.search(r'class="badge badge-ok">\s*Approved', page.text), page.text
    wrong = stack.get("/audit/as-of", params={"account": "me", "day": "2026-11-01"},
                      cookies=auditor.cookies())  # fmt: skip
    assert wrong.status_code == 422 and "Account: give the account" in wrong.text
