"""Investigators reading the audit trail through the gateway: by who acted and what kind,
oldest first (a replay) or newest first, a page at a time; filters it cannot apply named."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.helpers.pdf import words_of
from tests.helpers.processes import wait_until
from tests.integration.test_patient_search_api import search


def history(stack, auditor, **params):
    response = stack.get("/api/audit/history", headers=auditor.headers(), params=params)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return response.json()


def test_an_auditor_replays_one_user_s_searches_in_order_a_page_at_a_time(
    stack, people, auditor
) -> None:
    prescriber = people["prescriber"]
    began = datetime.now(UTC).isoformat()  # the prescriber searches in other tests too
    for last in ("Audited", "Auditedagain"):
        assert search(stack, prescriber, "Nobody", last, "1900-01-02").status_code == 200
    asked = {"actor": prescriber.account_id, "type": "PatientSearched", "order": "oldest",
             "since": began}  # fmt: skip
    searches = wait_until(
        lambda: (h := history(stack, auditor, **asked))["total"] >= 2 and h,
        30,
        "the two searches in the audit trail",
    )
    mine = [
        e for e in searches["entries"] if e["data"]["criteria"]["last_name"].startswith("Audited")
    ]
    assert [e["data"]["criteria"]["last_name"] for e in mine][-2:] == ["Audited", "Auditedagain"]
    assert all(e["metadata"]["actor_id"] == prescriber.account_id for e in searches["entries"])
    assert all(
        e["source"] == "query" and e["type"] == "PatientSearched" for e in searches["entries"]
    )
    newest = history(stack, auditor, **{**asked, "order": "newest", "page_size": 1})
    assert newest["total"] == searches["total"] and len(newest["entries"]) == 1
    assert newest["entries"][0]["n"] == searches["entries"][-1]["n"]
    second_page = history(stack, auditor, **{**asked, "page_size": 1, "page": 2})
    assert second_page["entries"][0]["n"] == searches["entries"][1]["n"]


@pytest.mark.parametrize(
    ("params", "named"),
    [({"since": "2026-11-22T09:00:00"}, "since"), ({"source": "billing"}, "source"),
     ({"page": "two"}, "page"), ({"page_size": "501"}, "page_size")],
)  # fmt: skip
def test_a_filter_the_history_cannot_apply_is_named(stack, auditor, params, named) -> None:
    response = stack.get("/api/audit/history", headers=auditor.headers(), params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(f"{named}:")


def test_the_user_activity_report_lists_what_one_user_did_and_what_was_done_to_them(
    stack, people, auditor
) -> None:
    prescriber = people["prescriber"]
    assert search(stack, prescriber, "Nobody", "Activity", "1900-01-03").status_code == 200
    path = f"/api/audit/users/{prescriber.account_id}/activity.jsonl"

    def lines() -> list[dict]:
        response = stack.get(path, headers=auditor.headers())
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/jsonl")
        return [json.loads(line) for line in response.text.splitlines()]

    report = wait_until(
        lambda: (
            (found := lines())
            and any(
                e["type"] == "PatientSearched" and e["data"]["criteria"]["last_name"] == "Activity"
                for e in found
            )
            and found
        ),
        30,
        "the search in the user activity report",
    )
    assert [e["n"] for e in report] == sorted(e["n"] for e in report), "oldest first"
    kinds = {e["type"] for e in report}
    assert {"AccountCreated", "PatientSearched"} <= kinds, kinds
    account = f"account-{prescriber.account_id}"
    assert all(
        e["metadata"]["actor_id"] == prescriber.account_id
        or e["stream"] in (account, f"registration-{prescriber.account_id}")
        for e in report
    )
    created = next(e for e in report if e["type"] == "AccountCreated")
    assert created["metadata"]["actor_id"] == people["admin"].account_id, "done to them"
    others = stack.get(
        f"/api/audit/users/{people['pharmacy'].account_id}/activity.jsonl",
        headers=auditor.headers(),
    ).text
    assert "Activity" not in others


def test_the_user_activity_page_shows_an_account_s_events_in_the_period(
    stack, people, auditor, tmp_path
) -> None:
    prescriber = people["prescriber"]
    assert search(stack, prescriber, "Nobody", "Pageshown", "1900-01-04").status_code == 200
    today = datetime.now(UTC).date().isoformat()
    asked = {"account": prescriber.account_id, "from": "2020-01-01", "to": today}

    def shown() -> str:
        response = stack.get("/audit/activity", params=asked, cookies=auditor.cookies())
        assert response.status_code == 200, response.text
        return response.text

    page = wait_until(lambda: "Pageshown" in (text := shown()) and text, 30, "the search shown")
    assert "PatientSearched" in page and "AccountCreated" in page
    downloads = {}
    for kind in ("pdf", "jsonl"):
        link = f"/audit/activity.{kind}?account={prescriber.account_id}&amp;from=2020-01-01"
        assert link in page
        downloads[kind] = stack.get(link.replace("&amp;", "&"), cookies=auditor.cookies())
        assert downloads[kind].status_code == 200, downloads[kind].text
    pdf = tmp_path / "activity.pdf"
    pdf.write_bytes(downloads["pdf"].content)
    text = words_of(pdf)
    assert "User activity report" in text and "Pageshown" in text and "PatientSearched" in text
    assert text.index("AccountCreated") < text.index("PatientSearched")  # oldest first
    lines = [json.loads(line) for line in downloads["jsonl"].text.splitlines()]
    assert [e["n"] for e in lines] == sorted(e["n"] for e in lines)
    assert any("Pageshown" in json.dumps(e["data"]) for e in lines)
    wrong = stack.get("/audit/activity", params={"account": "Dr Smith"}, cookies=auditor.cookies())
    assert wrong.status_code == 422 and "Account: give the account" in wrong.text
    backwards = {**asked, "from": today, "to": "2020-01-01"}
    refused = stack.get("/audit/activity", params=backwards, cookies=auditor.cookies())
    assert refused.status_code == 422 and "the first day comes after the last" in refused.text
