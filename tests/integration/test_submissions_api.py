"""A pharmacy sends an ASAP file through the gateway: the outcome, the error report, and the
recorded dispensations reaching a consumer of the submissions service's events."""

from __future__ import annotations

import csv
import io
import json
import time

import kombu
import pytest

from pmp.broker import event_exchange
from tests.helpers.accounts import User, api
from tests.helpers.asap import build, pha, record

SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)


def send(stack, user: User, content: bytes, name: str = "january.dat"):
    files = {"file": (name, content, "application/octet-stream")}
    return api(stack, "POST", "/api/submissions", user, files=files)


class Listener:
    """A real consumer of ``DispensationsRecorded``, bound before anything is sent."""

    def __init__(self, amqp_uri: str, name: str = "test-dispensations"):
        self.connection = kombu.Connection(amqp_uri)
        exchange = event_exchange("submissions")
        self.queue = kombu.Queue(
            name, exchange, routing_key="DispensationsRecorded", auto_delete=True
        )
        self.queue(self.connection.default_channel).declare()

    def records(self, expected: int, timeout: float = 30) -> list[dict]:
        found: list[dict] = []
        deadline = time.monotonic() + timeout
        bound = self.queue(self.connection.default_channel)
        while len(found) < expected and time.monotonic() < deadline:
            message = bound.get(no_ack=True)
            if message is None:
                time.sleep(0.2)
                continue
            found += json.loads(message.body)["data"]["records"]
        return found

    def close(self) -> None:
        self.connection.release()


def test_a_pharmacy_sends_a_file_reads_its_report_and_the_records_reach_consumers(stack, people):
    listener = Listener(stack.env["PMP_AMQP_URI"])
    try:
        bad = record(2, dsp={8: "12345"})  # an NDC of 5 digits
        content = build([(pha(), record(1) + bad + record(3))])
        sent = send(stack, people["pharmacy"], content)
        assert sent.status_code == 201, sent.text
        outcome = sent.json()
        assert outcome["status"] == "accepted"
        assert (outcome["counts"]["recorded"], outcome["counts"]["rejected"]) == (2, 1)
        assert outcome["error_count"] == 1

        path = f"/api/submissions/{outcome['submission_id']}"
        (error,) = api(stack, "GET", path + "/errors", people["pharmacy"]).json()["errors"]
        assert (error["segment"], error["field"], error["value"]) == ("DSP", "DSP08", "12345")
        assert "11-digit NDC" in error["message"]
        csv_headers = {**people["pharmacy"].headers(), "Accept": "text/csv"}
        as_csv = stack.get(path + "/errors", headers=csv_headers)
        assert as_csv.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert rows == [{k: str(v) for k, v in error.items()}]

        recorded = listener.records(2)
        numbers = sorted(r["dispensation"]["prescription_number"] for r in recorded)
        assert numbers == ["RX1001", "RX1003"]  # the refused record is nowhere
        assert all(r["person_id"] for r in recorded)
    finally:
        listener.close()

    again = send(stack, people["pharmacy"], content).json()
    assert again["status"] == "duplicate"
    assert again["duplicate_of"] == outcome["submission_id"]
    summary = api(stack, "GET", path, people["pharmacy"]).json()
    assert (summary["status"], summary["counts"]["recorded"]) == ("accepted", 2)  # once

    # the same outcome as a page, and its report as a CSV download
    cookies = {"pmp_session": people["pharmacy"].token}
    page = stack.get(f"/submissions/{outcome['submission_id']}", cookies=cookies)
    assert page.status_code == 200
    assert "Accepted" in page.text and "DSP08" in page.text and "Download as CSV" in page.text
    download = stack.get(f"/submissions/{outcome['submission_id']}/errors.csv", cookies=cookies)
    assert download.text.splitlines()[0] == "line,segment,field,value,message"


@SQLITE
def test_a_submission_is_shown_to_its_sender_and_to_staff_only(stack, people):
    outcome = send(stack, people["pharmacy"], build([(pha(), record(7))]), "feb.dat").json()
    path = f"/api/submissions/{outcome['submission_id']}"
    assert api(stack, "GET", path, people["pharmacy"]).status_code == 200
    assert api(stack, "GET", path, people["admin"]).status_code == 200
    assert api(stack, "GET", path, people["other_pharmacy"]).status_code == 404
    assert api(stack, "GET", path, people["prescriber"]).status_code == 403
    assert send(stack, people["prescriber"], b"TH*").status_code == 403


@SQLITE
def test_a_file_with_a_structural_error_is_rejected_whole(stack, people):
    sent = send(stack, people["pharmacy"], build([(pha(), record(8))], tt_delta=3), "bad.dat")
    outcome = sent.json()
    assert outcome["status"] == "rejected" and outcome["counts"]["records"] == 0
    errors = api(
        stack, "GET", f"/api/submissions/{outcome['submission_id']}/errors", people["pharmacy"]
    ).json()["errors"]
    assert [e["segment"] for e in errors] == ["TT"]
    assert send(stack, people["pharmacy"], b"").status_code == 422  # an empty file
