"""Searching for a patient and reading their Patient History Report through the JSON API:
tolerant matching, the attested purpose per role, reports only of one's own searches, every
search and report recorded, and patient data withheld from users whose standing lapsed."""

from __future__ import annotations

import io
import uuid
from csv import reader
from datetime import date, timedelta

import orjson
import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from tests.helpers.accounts import User, api, create_user, ready
from tests.helpers.asap import build, pha, record
from tests.helpers.processes import wait_until
from tests.helpers.program_day import program_today
from tests.helpers.registration import registered
from tests.integration.test_submissions_api import send

OXYCODONE_ER_10MG = "00093002401"  # OXYCODONE HCL 10 MG, MME factor 1.5
TODAY = program_today()
# Two people with the same name and date of birth, told apart by gender and address; a third
# born the same day under another name; a fourth whose DOB has a day that can pass as a month.
DANA_F = {
    7: "WESTERGAARD",
    8: "DANA",
    12: "14 ORCHARD LN",
    14: "MYSTIC",
    15: "CT",
    16: "06355",
    18: "19750930",
    19: "F",
}
DANA_M = {**DANA_F, 12: "220 SHORE RD", 14: "GROTON", 16: "06340", 19: "M"}
OSWALDO = {**DANA_F, 7: "PRZYBYLSKI", 8: "OSWALDO", 12: "3 KILN ST", 19: "M"}
BARTHOLOMEW = {
    7: "ACKERLUND",
    8: "BARTHOLOMEW",
    12: "71 FERRY RD",
    14: "OLD LYME",
    15: "CT",
    16: "06371",
    18: "19680311",
    19: "M",
}
TREATING = {"kind": "treating", "attested": True}


def filled(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).strftime("%Y%m%d")


def dispensation(rx: int, patient: dict, days_ago: int, quantity: int = 60) -> list:
    """An oxycodone fill of 30 days, ``days_ago`` days ago."""
    when = filled(days_ago)
    over = {3: when, 5: when, 8: OXYCODONE_ER_10MG, 9: str(quantity), 10: "30"}
    return record(rx, pat=patient, dsp=over)


def search(stack, user: User, first: str, last: str, born: str, purpose=None, **criteria):
    body = {
        "criteria": {"first_name": first, "last_name": last, "birth_date": born, **criteria},
        "purpose": purpose or TREATING,
    }
    return api(stack, "POST", "/api/searches", user, json=body)


def found(stack, user: User, *args, **kwargs) -> dict:
    response = search(stack, user, *args, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return response.json()


def report(stack, user: User, search_id: str, person_ids: list[str], document="report", months=0):
    """The report (or ``document``: report.pdf, alerts.pdf) of the persons the search found."""
    params = [("person", p) for p in person_ids] + ([("months", months)] if months else [])
    return api(stack, "GET", f"/api/searches/{search_id}/{document}", user, params=params)


def query_events(stack, search_id: str) -> list[dict]:
    """The query service's events about ``search_id``, read from its store."""
    events, after = [], 0
    with ClusterRpcProxy({"AMQP_URI": stack.env["PMP_AMQP_URI"]}) as rpc:
        while batch := rpc.query.read_events(after, 5000):
            events += [e for e in batch if e["data"].get("search_id") == search_id]
            after = batch[-1]["position"]
    return events


@pytest.fixture(scope="module")
def loaded(stack, people) -> dict:
    """The four people's dispensations, once the query read model has them all."""
    content = build(
        [
            (
                pha(),
                dispensation(901, DANA_F, 5)
                + dispensation(902, DANA_F, 200, 120)
                + dispensation(903, DANA_M, 40)
                + dispensation(904, OSWALDO, 10)
                + dispensation(905, BARTHOLOMEW, 15),
            )
        ]
    )
    sent = send(stack, people["pharmacy"], content, "search.dat")
    assert sent.json()["counts"]["recorded"] == 5, sent.text
    prescriber = people["prescriber"]

    def everyone_there():
        danas = found(stack, prescriber, "DANA", "WESTERGAARD", "1975-09-30")
        barts = found(stack, prescriber, "BARTHOLOMEW", "ACKERLUND", "1968-03-11")
        return len(danas["persons"]) == 2 and barts["outcome"] == "one" and danas

    danas = wait_until(everyone_there, 60, "the dispensations in the query read model", 0.5)
    female = next(p for p in danas["persons"] if p["genders"] == ["F"])
    return {"danas": danas, "female": female}


def test_tolerant_search_and_the_report(stack, people, loaded):
    prescriber = people["prescriber"]

    misspelled = found(stack, prescriber, "BARTHOLEMEW", "ACKERLUND", "1968-03-11")
    assert misspelled["outcome"] == "one"
    [bart] = misspelled["persons"]
    assert bart["names"] == ["ACKERLUND, BARTHOLOMEW"] and bart["dispensations"] == 1
    swapped = found(stack, prescriber, "BARTHOLOMEW", "ACKERLUND", "1968-11-03")
    assert [p["person_id"] for p in swapped["persons"]] == [bart["person_id"]]

    several = found(stack, prescriber, "DANNA", "WESTERGAARD", "1975-09-30")
    assert several["outcome"] == "several"
    names = {name for person in several["persons"] for name in person["names"]}
    assert names == {"WESTERGAARD, DANA"}  # not OSWALDO PRZYBYLSKI, born the same day
    assert {p["genders"][0] for p in several["persons"]} == {"F", "M"}

    female = next(p for p in several["persons"] if p["genders"] == ["F"])
    response = report(stack, prescriber, several["search_id"], [female["person_id"]])
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    content = response.json()
    assert content["title"] == "Patient History Report" and content["months"] == 12
    assert content["requester"]["account_id"] == prescriber.account_id
    assert content["purpose"] == "Current patient under my care"
    assert content["alerts"]["engine"] == "connected"
    assert [p["person_id"] for p in content["patients"]] == [female["person_id"]]
    summary = content["summary"]
    assert summary["dispensations"] == 2 and summary["active_prescriptions"] == 1
    assert summary["current_mme"] == 30.0 and summary["peak_mme"] == 60.0
    assert len(content["mme_chart"]) == (TODAY - date.fromisoformat(content["from"])).days + 1
    recent = content["dispensations"][0]
    assert recent["filled"] == (TODAY - timedelta(days=5)).isoformat()
    assert recent["drug"] == "OXYCODONE HCL" and recent["active"]
    assert recent["days_supply"] == 30 and recent["mme_per_day"] == 30.0
    assert not content["dispensations"][1]["active"]

    too_far = report(stack, prescriber, several["search_id"], [female["person_id"]], months=37)
    assert too_far.status_code == 422 and "look-back" in too_far.json()["detail"]
    stranger = [p for p in loaded["danas"]["persons"] if p["person_id"] != female["person_id"]]
    not_found = report(stack, prescriber, misspelled["search_id"], [stranger[0]["person_id"]])
    assert not_found.status_code == 404  # not a person this search found

    pdf = report(stack, prescriber, several["search_id"], [female["person_id"]], "report.pdf")
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert pdf.headers["Cache-Control"] == "no-store"
    assert 'filename="Patient History Report.pdf"' in pdf.headers["Content-Disposition"]
    alerts = report(stack, prescriber, several["search_id"], [female["person_id"]], "alerts.pdf")
    assert alerts.status_code == 200 and alerts.content.startswith(b"%PDF-")
    assert 'filename="Patient alerts.pdf"' in alerts.headers["Content-Disposition"]

    recorded = wait_until(
        lambda: (
            (events := query_events(stack, several["search_id"])) and len(events) >= 4 and events
        ),
        30,
        "the search's events",
    )
    assert [e["type"] for e in recorded][:2] == ["PatientSearched", "PatientReportViewed"]
    searched, viewed = recorded[0], recorded[1]
    assert searched["data"]["requester"]["account_id"] == prescriber.account_id
    assert searched["data"]["purpose"]["kind"] == "treating"
    assert searched["data"]["on_behalf_of"] is None
    assert viewed["data"]["person_ids"] == [female["person_id"]] and viewed["data"]["months"] == 12
    assert {e["data"].get("format") for e in recorded[1:]} >= {"json", "pdf"}


def test_a_report_is_only_for_the_user_who_searched(stack, people, loaded, tmp_path):
    pharmacist = ready(stack, create_user(stack, people["admin"], "pharmacist", tmp_path))
    search_id = loaded["danas"]["search_id"]
    other = report(stack, pharmacist, search_id, [loaded["female"]["person_id"]])
    assert other.status_code == 404, other.text


def test_each_role_attests_its_own_purpose(stack, people, tmp_path):
    admin = people["admin"]
    pharmacist = ready(stack, create_user(stack, admin, "pharmacist", tmp_path))
    officer = ready(stack, create_user(stack, admin, "law_enforcement", tmp_path))
    registry_only = ready(stack, create_user(stack, admin, "law_enforcement_mm", tmp_path))
    args = ("DANA", "WESTERGAARD", "1975-09-30")

    treating = search(stack, pharmacist, *args)
    assert treating.status_code == 422 and "purpose" in treating.json()["detail"]
    assert found(stack, pharmacist, *args, purpose={"kind": "dispensing", "attested": True})

    investigation = {"kind": "investigation", "attested": True}
    no_case = search(stack, officer, *args, purpose=investigation)
    assert no_case.status_code == 422 and "case_number" in no_case.json()["detail"]
    with_case = {**investigation, "case_number": "CSP-2026-0117"}
    assert found(stack, officer, *args, purpose=with_case)["outcome"] == "several"

    assert search(stack, registry_only, *args).status_code == 403
    unattested = search(stack, people["prescriber"], *args, purpose={"kind": "treating"})
    assert unattested.status_code == 422 and "attested" in unattested.json()["errors"]["purpose"]
    no_date = search(stack, people["prescriber"], "DANA", "WESTERGAARD", "30/09/1975")
    assert no_date.status_code == 422 and "birth_date" in no_date.json()["errors"]["criteria"]


def refused(stack, user: User) -> int:
    """The status of a search once the gateway's few seconds of cached principal are over."""
    return wait_until(
        lambda: (
            (status := search(stack, user, "DANA", "WESTERGAARD", "1975-09-30").status_code)
            in {401, 403}
            and status
        ),
        30,
        "the search refused",
        0.5,
    )


def test_users_whose_standing_lapsed_may_not_search(stack, people, tmp_path):
    admin, reason = people["admin"], {"reason": "patient search test"}
    users = {
        name: ready(stack, create_user(stack, admin, "prescriber", tmp_path))
        for name in ("renewal due", "suspended", "revoked", "locked")
    }
    for user in users.values():
        assert search(stack, user, "DANA", "WESTERGAARD", "1975-09-30").status_code == 200

    past = (TODAY - timedelta(days=2)).isoformat()  # past in every time zone
    with ClusterRpcProxy({"AMQP_URI": stack.env["PMP_AMQP_URI"]}) as rpc:  # as registration
        rpc.identity.set_access_until(users["renewal due"].account_id, past)
    for name, action in (("suspended", "suspend"), ("revoked", "revoke")):
        path = f"/api/accounts/{users[name].account_id}/{action}"
        assert api(stack, "POST", path, admin, json=reason).status_code == 200

    assert refused(stack, users["renewal due"]) == 403
    assert refused(stack, users["suspended"]) == 401
    assert refused(stack, users["revoked"]) == 401

    locked = users["locked"]
    for _ in range(4):
        wrong = {"email": locked.email, "password": "Wrong-Password-99!"}
        assert stack.post("/api/sessions", json=wrong).status_code == 401
    right = stack.post("/api/sessions", json={"email": locked.email, "password": locked.password})
    assert right.status_code == 401  # no new session while locked
    # and the session opened before the lock stops working (the gateway caches a principal
    # for a few seconds at most)
    wait_until(
        lambda: search(stack, locked, "DANA", "WESTERGAARD", "1975-09-30").status_code == 401,
        15,
        "the locked user's open session refused",
        0.5,
    )


def test_a_delegate_searches_on_behalf_of_their_supervisor(stack, people, loaded):
    admin = people["admin"]
    supervisor = registered(stack, admin, "pharmacist")
    delegate = registered(
        stack, admin, "delegate", supervisor=supervisor, first_name="Ines", last_name="Delacroix"
    )
    assert search(stack, delegate, "DANA", "WESTERGAARD", "1975-09-30").status_code == 422
    dispensing = {"kind": "dispensing", "attested": True}
    result = found(stack, delegate, "DANA", "WESTERGAARD", "1975-09-30", purpose=dispensing)
    assert result["outcome"] == "several"

    [searched] = wait_until(
        lambda: query_events(stack, result["search_id"]), 30, "the delegate's search event"
    )
    data = searched["data"]
    assert data["requester"]["account_id"] == delegate.account_id
    assert data["requester"]["name"] == "Ines Delacroix"
    assert data["on_behalf_of"]["account_id"] == supervisor.account_id
    assert data["on_behalf_of"]["name"] and data["on_behalf_of"]["role"] == "pharmacist"
    assert data["purpose"]["kind"] == "dispensing"


def test_the_statistical_report_counts_each_report_viewed(stack, people, loaded, tmp_path):
    """A pharmacist of their own views one report: the administrators' statistics show them
    with one report, per individual and per role, as JSON, CSV and PDF. Their name, typed as
    a spreadsheet formula, cannot run when the CSV is opened."""
    admin = people["admin"]
    formula = '=HYPERLINK("http://evil.example/s","Stat")'
    pharmacist = ready(
        stack,
        create_user(stack, admin, "pharmacist", tmp_path, first_name=formula, last_name="Counter"),
    )
    bart = found(
        stack,
        pharmacist,
        "BARTHOLOMEW",
        "ACKERLUND",
        "1968-03-11",
        purpose={"kind": "dispensing", "attested": True},
    )
    viewed = report(stack, pharmacist, bart["search_id"], [bart["persons"][0]["person_id"]])
    assert viewed.status_code == 200, viewed.text

    def counted():
        table = api(stack, "GET", "/api/statistics", admin).json()
        return next((row for row in table["rows"] if row[0] == f"{formula} Counter"), None)

    assert wait_until(counted, 30, "the report viewed in the statistics") == [
        f"{formula} Counter",
        "Pharmacist",
        1,
    ]
    per_role = api(stack, "GET", "/api/statistics", admin, params={"group": "role"}).json()
    assert per_role["columns"] == ["Role", "Users", "Reports"]
    assert any(row[0] == "Pharmacist" and row[2] >= 1 for row in per_role["rows"])
    csv = api(stack, "GET", "/api/statistics.csv", admin)
    assert csv.headers["Cache-Control"] == "no-store"
    assert ["'" + formula + " Counter", "Pharmacist", "1"] in list(reader(io.StringIO(csv.text)))
    pdf = api(stack, "GET", "/api/statistics.pdf", admin)
    assert pdf.headers["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    refused = api(stack, "GET", "/api/statistics", admin, params={"sort": "Users"})
    assert refused.status_code == 422 and "sort:" in refused.json()["detail"]


def alerts_of(stack, user: User, search_id: str, person_id: str) -> dict:
    response = report(stack, user, search_id, [person_id])
    assert response.status_code == 200, response.text
    return response.json()["alerts"]


def test_alerts_lead_the_report_and_a_snooze_and_a_policy_change_take_effect(stack, people, loaded):
    prescriber, admin = people["prescriber"], people["admin"]
    search_id, dana = loaded["danas"]["search_id"], loaded["female"]["person_id"]
    alerts = wait_until(
        lambda: (a := alerts_of(stack, prescriber, search_id, dana))["items"] and a,
        30,
        "the alert in the report",
        0.3,
    )
    [alert] = alerts["items"]
    started = TODAY - timedelta(days=200)
    assert (alert["rule"], alert["level"]) == ("daily_mme", "caution")
    assert (alert["start"], alert["end"], alert["ongoing"]) == (
        started.isoformat(),
        (started + timedelta(days=29)).isoformat(),
        False,
    )
    assert "Peak 60.00 MME/day" in alert["evidence"] and alerts["policy"]["mme_alert"] == 90

    refused = api(
        stack,
        "POST",
        f"/api/alerts/{alert['alert_id']}/acknowledgements",
        prescriber,
        json={"reason": "", "snooze_months": 2},
    )
    assert refused.status_code == 422 and "snooze_months" in refused.text, refused.text
    done = api(
        stack,
        "POST",
        f"/api/alerts/{alert['alert_id']}/acknowledgements",
        prescriber,
        json={"reason": "Hospice care", "snooze_months": 3},
    )
    assert done.status_code == 201, done.text
    assert date.fromisoformat(done.json()["until"]) > TODAY + timedelta(days=85)
    snoozed = wait_until(
        lambda: (a := alerts_of(stack, prescriber, search_id, dana))["snoozed"] and a,
        30,
        "the snooze in the report",
        0.3,
    )
    assert snoozed["items"] == [] and snoozed["snoozed"][0]["snoozed"]["reason"] == "Hospice care"

    policy = api(stack, "GET", "/api/alert-policy", admin).json()["policy"]
    assert api(stack, "PUT", "/api/alert-policy", prescriber, json=policy).status_code == 403
    wrong = api(stack, "PUT", "/api/alert-policy", admin, json={**policy, "mme_caution": 95})
    assert wrong.status_code == 422 and "mme_caution" in wrong.text, wrong.text
    raised = api(stack, "PUT", "/api/alert-policy", admin, json={**policy, "mme_caution": 65})
    assert raised.status_code == 200, raised.text
    try:
        wait_until(
            lambda: not alerts_of(stack, prescriber, search_id, dana)["snoozed"],
            30,
            "the alert cleared under a caution level of 65",
            0.3,
        )
    finally:
        api(stack, "PUT", "/api/alert-policy", admin, json=policy)


def test_every_lookup_is_recorded_copied_into_the_audit_trail_and_counted(
    stack, people, auditor, loaded, tmp_path
):
    """What a lookup must still do however cheap it becomes (the Lookups per core issue):
    each search and each report viewed is an event of the query service, the audit trail
    holds each, in order, and the statistical report counts each report."""
    name = f"Lookup{uuid.uuid4().hex[:8]}"
    prescriber = ready(
        stack, create_user(stack, people["admin"], "prescriber", tmp_path, last_name=name)
    )
    lookups = []
    for document in ("report", "report.pdf", "report"):
        result = found(stack, prescriber, "Dana", "Westergaard", "1975-09-30")
        person = result["persons"][0]["person_id"]
        assert report(stack, prescriber, result["search_id"], [person], document).status_code == 200
        lookups.append((result["search_id"], "pdf" if document.endswith(".pdf") else "json"))

    def trail() -> list[dict]:
        response = stack.get(
            f"/api/audit/users/{prescriber.account_id}/activity.jsonl", headers=auditor.headers()
        )
        assert response.status_code == 200, response.text
        lines = [orjson.loads(line) for line in response.text.splitlines()]
        return [line for line in lines if line["source"] == "query"]

    copied = wait_until(lambda: len(found := trail()) >= 6 and found, 60, "the audit trail")
    assert [(e["type"], e["data"]["search_id"]) for e in copied] == [
        (kind, search_id)
        for search_id, _ in lookups
        for kind in ("PatientSearched", "PatientReportViewed")
    ]
    assert [e["data"]["format"] for e in copied[1::2]] == [f for _, f in lookups]
    for search_id, _ in lookups:  # the trail's copies are the query service's events
        recorded = query_events(stack, search_id)
        assert [str(e["event_id"]) for e in recorded] == [
            e["event_id"] for e in copied if e["data"]["search_id"] == search_id
        ]

    def counted() -> int:
        response = api(stack, "GET", "/api/statistics?group=individual", people["admin"])
        assert response.status_code == 200, response.text
        table = response.json()
        rows = [row for row in table["rows"] if name in row[0]]
        return rows[0][-1] if rows else 0

    assert wait_until(lambda: counted() == 3, 60, "three reports counted")
