"""An administrator reviews the links the patient index made with less than certainty: a
record linked by similarity is split off, a possible match is merged, and the next file's
records follow the decision."""

from __future__ import annotations

from tests.helpers.accounts import User, api
from tests.helpers.asap import build, pha, record
from tests.helpers.processes import wait_until
from tests.integration.test_submissions_api import Listener, send

# People no other test uses (the patient index lives as long as the stack), and unlike each
# other: the same first name, DOB and address under another surname is the same person.
VANTERPOOL = {7: "VANTERPOOL", 8: "MARGARET", 12: "81 QUARRY RD", 14: "NORWICH", 15: "CT",
              16: "06360", 18: "19580923", 19: "F"}  # fmt: skip
QUINTAVALLE = {**VANTERPOOL, 7: "QUINTAVALLE", 12: "9 MILL ST", 18: "19490302"}
ZABRISKIE = {**VANTERPOOL, 7: "ZABRISKIE", 8: "CARL", 12: "4 ORCHARD LN", 18: "19910517",
             19: "M"}  # fmt: skip


def queued(stack, admin: User, submission_id: str) -> dict:
    """The queue's item for the submission, once the read model shows it."""

    def find():
        items = api(stack, "GET", "/api/patient-matches", admin).json()["items"]
        return next((i for i in items if i["submission_id"] == submission_id), None)

    return wait_until(find, 30, "the link in the review queue")


def decided(stack, admin: User, patient_record: int) -> dict:
    path = f"/api/patient-matches/{patient_record}"
    return wait_until(
        lambda: (found := api(stack, "GET", path, admin).json())["decision"] and found,
        30,
        "the decision in the read model",
    )


def recorded(stack, people, listener: Listener, patient: dict, rx: int, first: str = "") -> dict:
    over = {**patient, **({8: first} if first else {})}
    sent = send(stack, people["pharmacy"], build([(pha(), record(rx, pat=over))]), f"{rx}.dat")
    assert sent.json()["counts"]["recorded"] == 1, sent.text
    (dispensation,) = listener.records(1)
    return {**dispensation, "submission_id": sent.json()["submission_id"]}


def test_a_link_made_by_similarity_is_split_off(stack, people):
    admin, patient = people["admin"], VANTERPOOL
    listener = Listener(stack.env["PMP_AMQP_URI"], "test-split")
    try:
        margaret = recorded(stack, people, listener, patient, 501)
        margret = recorded(stack, people, listener, patient, 502, "MARGRET")
        assert margret["person_id"] == margaret["person_id"]  # a typo, linked by weighing

        item = queued(stack, admin, margret["submission_id"])
        assert item["kind"] == "probabilistic" and item["decision"] is None
        path = f"/api/patient-matches/{item['patient_record']}"
        answer = api(stack, "GET", path, admin)
        assert answer.headers["Cache-Control"] == "no-store"  # patient data: never cached
        detail = answer.json()
        assert detail["record"]["first_name"] == "MARGRET"
        [linked_to] = detail["candidates"]
        assert [r["first_name"] for r in linked_to["records"]] == ["MARGARET"]

        answer = api(stack, "POST", path + "/decision", admin, json={"same": False})
        assert answer.status_code == 200, answer.text
        split = answer.json()
        assert split["decision"] == "PatientSplit"
        again = api(stack, "POST", path + "/decision", admin, json={"same": True})
        assert again.status_code == 409  # decided once
        decided(stack, admin, item["patient_record"])

        later = recorded(stack, people, listener, patient, 503, "MARGRET")
        assert later["person_id"] == split["new_person_id"] != margaret["person_id"]
    finally:
        listener.close()


def test_a_possible_match_is_merged(stack, people):
    admin, patient = people["admin"], QUINTAVALLE
    listener = Listener(stack.env["PMP_AMQP_URI"], "test-merge")
    try:
        margaret = recorded(stack, people, listener, patient, 601)
        marjorie = recorded(stack, people, listener, patient, 602, "MARJORIE")
        assert marjorie["person_id"] != margaret["person_id"]  # close, but not enough

        item = queued(stack, admin, marjorie["submission_id"])
        assert item["kind"] == "new"
        assert [p["person_id"] for p in item["possible"]] == [margaret["person_id"]]
        path = f"/api/patient-matches/{item['patient_record']}/decision"
        bad = api(stack, "POST", path, admin, json={"same": "perhaps"})
        assert bad.status_code == 422 and "same" in bad.json()["errors"]
        answer = api(stack, "POST", path, admin, json={"same": True, "note": "same SSN"})
        assert answer.json()["decision"] == "PatientsMerged", answer.text
        assert answer.json()["merged_person_id"] == marjorie["person_id"]
        decided(stack, admin, item["patient_record"])

        later = recorded(stack, people, listener, patient, 603, "MARJORIE")
        assert later["person_id"] == margaret["person_id"]
        refused = api(stack, "GET", "/api/patient-matches", people["pharmacy"])
        assert refused.status_code == 403  # patient data: administrators only
    finally:
        listener.close()


def test_twins_one_letter_apart_are_two_people_and_queued_for_review(stack, people):
    """Issue 24: Carl and Earl, brothers born the same day at one address, were one person."""
    admin, patient = people["admin"], ZABRISKIE
    listener = Listener(stack.env["PMP_AMQP_URI"], "test-twins")
    try:
        carl = recorded(stack, people, listener, patient, 711)
        earl = recorded(stack, people, listener, patient, 712, "EARL")
        assert earl["person_id"] != carl["person_id"]

        item = queued(stack, admin, earl["submission_id"])
        assert item["kind"] == "new" and item["decision"] is None
        assert [p["person_id"] for p in item["possible"]] == [carl["person_id"]]
        assert "first: another name -9" in item["reasons"]
    finally:
        listener.close()
