"""Misuse signals on the running system: a prescriber searches a patient who shares their
surname, and investigators find the signal through the API and on the page, and in the
audit trail as the audit service's own event."""

from __future__ import annotations

import html
import uuid

from tests.helpers.processes import wait_until
from tests.integration.test_patient_search_api import search


def signals(stack, user, **params) -> dict:
    response = stack.get("/api/audit/signals", headers=user.headers(), params=params)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return response.json()


def test_a_prescriber_searching_their_own_surname_is_signalled_to_investigators(
    stack, people, auditor
) -> None:
    prescriber = people["prescriber"]  # Pat Prescriber
    first = f"Kin{uuid.uuid4().hex[:6]}"  # a patient asked for once in the whole session
    searched = search(stack, prescriber, first, "PRESCRIBER", "1931-02-03")
    assert searched.status_code == 200, searched.text
    search_id = searched.json()["search_id"]

    def raised() -> dict | None:
        found = signals(stack, auditor, kind="surname", account=prescriber.account_id)
        return next((s for s in found["signals"] if search_id in s["search_ids"]), None)

    signal = wait_until(raised, 60, "the surname signal")
    assert signal["kind"] == "surname" and signal["account_id"] == prescriber.account_id
    assert signal["searcher"] == {"name": "Pat Prescriber", "role": "prescriber",
                                  "role_title": "Prescriber"}  # fmt: skip
    assert signal["person_id"] is None  # nobody of that name and birth date was found
    assert signal["evidence"]["text"] == (
        "Pat Prescriber searched for the surname PRESCRIBER, their own."
    )
    assert signal["kind_title"] == "Patient shares the searcher's surname"

    administrator = signals(stack, people["admin"], kind="surname")
    assert signal["signal_id"] in {s["signal_id"] for s in administrator["signals"]}
    refused = stack.get("/api/audit/signals", headers=auditor.headers(), params={"kind": "odd"})
    assert refused.status_code == 422 and refused.json()["detail"].startswith("kind:")

    page = stack.get("/audit/signals", params={"kind": "surname"}, cookies=auditor.cookies())
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert "Patient shares the searcher's surname" in text
    assert "Pat Prescriber searched for the surname PRESCRIBER, their own." in text
    assert f"/audit/activity?account={prescriber.account_id}" in text
    assert 'href="/audit/signals" aria-current="page"' in page.text

    def chained() -> list[dict]:
        asked = {"source": "audit", "type": "MisuseSignalRaised", "page_size": 500}
        response = stack.get("/api/audit/history", headers=auditor.headers(), params=asked)
        assert response.status_code == 200, response.text
        entries = response.json()["entries"]
        return [e for e in entries if e["data"]["signal_id"] == signal["signal_id"]]

    (entry,) = wait_until(chained, 30, "the signal chained in the audit trail")
    assert entry["data"]["search_ids"] == [search_id]
    assert entry["metadata"]["causation_id"]  # the search's event
