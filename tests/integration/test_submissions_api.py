"""A pharmacy sends an ASAP file through the gateway: the outcome, the error report, and the
recorded dispensations reaching a consumer of the submissions service's events."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from datetime import timedelta

import kombu
import pytest

from pmp.broker import event_exchange
from tests.helpers.accounts import User, api
from tests.helpers.asap import build, pha, record
from tests.helpers.processes import wait_until
from tests.helpers.program_day import program_today

SQLITE = pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
REPORT_KEYS = [
    "segment_number", "line", "byte_offset", "segment", "field", "value", "message", "severity"
]  # fmt: skip
REPORT_HEADINGS = [
    "Segment #", "Line", "Byte offset", "Segment", "Field", "Value", "Message", "Severity"
]  # fmt: skip


def found(stack, user: User, first: str, last: str, born: str) -> dict:
    """A prescriber's search for a patient (treating them); the answer's body."""
    body = {
        "criteria": {"first_name": first, "last_name": last, "birth_date": born},
        "purpose": {"kind": "treating", "attested": True},
    }
    response = api(stack, "POST", "/api/searches", user, json=body)
    assert response.status_code == 200, response.text
    return response.json()


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
        # a file without line breaks: line 1, so the segment (TH is 1) and its first byte
        assert (error["segment_number"], error["line"]) == (8, 1)
        assert type(error["byte_offset"]) is int
        csv_headers = {**people["pharmacy"].headers(), "Accept": "text/csv"}
        as_csv = stack.get(path + "/errors", headers=csv_headers)
        assert as_csv.headers["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(as_csv.text)))
        assert rows == [REPORT_HEADINGS, [str(error[k]) for k in REPORT_KEYS]]

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
    assert "Segment #" in page.text and "Byte offset" in page.text
    download = stack.get(f"/submissions/{outcome['submission_id']}/errors.csv", cookies=cookies)
    assert download.text == as_csv.text


@SQLITE
def test_a_submission_is_shown_to_its_sender_and_to_staff_only(stack, people):
    outcome = send(stack, people["pharmacy"], build([(pha(), record(7))]), "feb.dat").json()
    path = f"/api/submissions/{outcome['submission_id']}"
    assert api(stack, "GET", path, people["pharmacy"]).status_code == 200
    assert api(stack, "GET", path, people["admin"]).status_code == 200
    assert api(stack, "GET", path, people["other_pharmacy"]).status_code == 404
    assert api(stack, "GET", path, people["prescriber"]).status_code == 403
    assert send(stack, people["prescriber"], b"TH*").status_code == 403


def test_the_same_file_from_another_pharmacy_is_its_own_submission(stack, people):
    """A file is recognised as sent before only when its sender sent it: another account's
    identical bytes were answered as a duplicate of the first sender's submission (which that
    account may not open), and would have continued it had it stopped part-way."""
    content = build([(pha(), record(11))])
    first = send(stack, people["pharmacy"], content, "mar.dat").json()
    assert first["status"] == "accepted", first
    again = send(stack, people["pharmacy"], content, "mar.dat").json()
    assert (again["status"], again["duplicate_of"]) == ("duplicate", first["submission_id"])

    theirs = send(stack, people["other_pharmacy"], content, "mar.dat").json()
    assert theirs["status"] == "accepted" and theirs["submission_id"] != first["submission_id"]
    path = f"/api/submissions/{theirs['submission_id']}"
    shown = api(stack, "GET", path, people["other_pharmacy"])
    assert shown.status_code == 200, shown.text
    assert shown.json()["counts"]["recorded"] == 0, "the record was recorded already"


@SQLITE
def test_a_long_error_report_is_shown_a_hundred_lines_a_page(stack, people):
    """A file with 250 refused records: its page listed all of them at once."""
    bad = [s for n in range(250) for s in record(300 + n, dsp={5: "99991231"})]
    outcome = send(stack, people["pharmacy"], build([(pha(), bad)]), "long.dat").json()
    cookies = {"pmp_session": people["pharmacy"].token}
    path = f"/submissions/{outcome['submission_id']}"

    def lines_on(query: str) -> tuple[int, str]:
        page = stack.get(path + query, cookies=cookies)
        assert page.status_code == 200, page.text
        return page.text.count('data-label="Message"'), page.text

    count, first = lines_on("")
    assert count == 100 and "250 errors; lines 1 to 100 below" in first
    assert "Page 1 of 3" in first and f'href="{path}?page=2#report"' in first
    count, last = lines_on("?page=3")
    assert count == 50 and "lines 201 to 250" in last and "Previous page" in last
    assert lines_on("?page=9")[0] == 50  # past the end: the last page
    assert stack.get(path + "?page=x", cookies=cookies).status_code == 422


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


def test_a_record_filled_on_an_impossible_date_is_refused_naming_the_field(stack, people):
    """A fill on 9999-12-31 once reached the alerts watch and stopped it: the intake refuses
    the record naming DSP05, the patient is nowhere to be found, the file's good record
    stands."""
    far = {7: "FARFUTURE", 8: "ZELDA", 18: "19610405"}
    near = {7: "GOODFILL", 8: "OTTILIE", 18: "19700707"}
    content = build([(pha(), record(41, pat=far, dsp={5: "99991231"}) + record(42, pat=near))])
    sent = send(stack, people["pharmacy"], content, "far-future.dat")
    assert sent.status_code == 201, sent.text
    outcome = sent.json()
    assert outcome["status"] == "accepted"
    assert (outcome["counts"]["recorded"], outcome["counts"]["rejected"]) == (1, 1)
    path = f"/api/submissions/{outcome['submission_id']}/errors"
    (error,) = api(stack, "GET", path, people["pharmacy"]).json()["errors"]
    assert (error["segment"], error["field"], error["value"]) == ("DSP", "DSP05", "99991231")
    assert "after the day the file was received" in error["message"]

    prescriber = people["prescriber"]
    wait_until(
        lambda: found(stack, prescriber, "OTTILIE", "GOODFILL", "1970-07-07")["persons"],
        60,
        "the good record of the file in the query read model",
        0.5,
    )
    assert found(stack, prescriber, "ZELDA", "FARFUTURE", "1961-04-05")["persons"] == []


def test_a_formula_in_the_error_report_is_neutralised_in_the_csv(stack, people):
    """A value echoed from the file must not run as a formula when the report is opened in a
    spreadsheet (OWASP's CSV injection): the cell starts with a quote."""
    formula = '=HYPERLINK("http://evil.example/x","fix")'
    content = build([(pha(), record(51, dsp={8: formula}))])
    outcome = send(stack, people["pharmacy"], content, "formula.dat").json()
    assert outcome["counts"]["rejected"] == 1
    path = f"/api/submissions/{outcome['submission_id']}/errors"
    (error,) = api(stack, "GET", path, people["pharmacy"]).json()["errors"]
    assert error["value"].startswith("=HYPERLINK(")  # the JSON report keeps it as sent

    headers = {**people["pharmacy"].headers(), "Accept": "text/csv"}
    downloads = [
        stack.get(path, headers=headers).text,
        stack.get(
            f"/submissions/{outcome['submission_id']}/errors.csv",
            cookies=people["pharmacy"].cookies(),
        ).text,
    ]
    for text in downloads:
        (row,) = csv.DictReader(io.StringIO(text))
        assert row["Value"] == "'" + error["value"], text
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values())


def test_a_name_read_as_latin_1_is_kept_and_the_report_notes_it_for_the_pharmacy(stack, people):
    """ASAP asks for ASCII; a pharmacy system writing a one-byte Western code page sent
    "MU\\xd1OZ". The record is kept with the name read as Latin-1 (MUÑOZ, found by that name)
    and the report tells the pharmacy so, as a note rather than an error: in the JSON, the
    page and the CSV (once, it was accepted without a word)."""
    patient = {7: "MUNOZ", 8: "CATALINA", 18: "19580214"}
    content = build([(pha(), record(61, pat=patient))]).replace(b"MUNOZ", b"MU\xd1OZ")
    sent = send(stack, people["pharmacy"], content, "latin-1.dat")
    assert sent.status_code == 201, sent.text
    outcome = sent.json()
    assert (outcome["status"], outcome["counts"]["recorded"]) == ("accepted", 1)
    sender = people["pharmacy"]
    path = f"/api/submissions/{outcome['submission_id']}/errors"
    (note,) = api(stack, "GET", path, sender).json()["errors"]
    assert (note["severity"], note["field"], note["value"]) == ("note", "PAT07", "MUÑOZ")
    assert "Latin-1" in note["message"] and note["segment_number"] == 4

    page = stack.get(f"/submissions/{outcome['submission_id']}", cookies=sender.cookies())
    assert "0 errors and 1 note" in page.text and "No errors." in page.text
    assert "Notes: kept, but check them" in page.text and "MUÑOZ" in page.text
    csv_text = stack.get(
        f"/submissions/{outcome['submission_id']}/errors.csv", cookies=sender.cookies()
    ).text
    (row,) = csv.DictReader(io.StringIO(csv_text))
    assert (row["Severity"], row["Field"], row["Value"]) == ("note", "PAT07", "MUÑOZ")
    wait_until(
        lambda: found(stack, people["prescriber"], "CATALINA", "MUÑOZ", "1958-02-14")["persons"],
        60,
        "the record under the name as read",
        0.5,
    )


OXYCODONE_ER_10MG = "00093002401"  # MME factor 1.5: 120 tablets over 30 days, 60 MME/day


def fill(tag: str, n: int, patient: dict[int, str]) -> list[list[str]]:
    """An oxycodone fill of 30 days, three days ago: a daily MME alert on its own."""
    when = (program_today() - timedelta(days=3)).strftime("%Y%m%d")
    over = {2: f"RX{tag}{n}", 3: when, 5: when, 8: OXYCODONE_ER_10MG, 9: "120", 10: "30"}
    return record(0, pat=patient, dsp=over)


def test_a_test_file_is_answered_with_its_report_and_leaves_no_trace(stack, people):
    """Issue 24: a file with TH07 = T was recorded as real data and its patient could be
    searched. It is checked and answered with its whole report; nothing of it reaches the
    patient index, the patient histories or the alerts, and the same records sent afterwards
    in a production file are new."""
    tag = uuid.uuid4().hex[:6].upper()
    tessa = {7: "TRIALSDOTTIR", 8: "TESSA", 18: "19770420", 19: "F"}
    records = fill(tag, 1, tessa) + record(2, pat=tessa, dsp={2: f"RX{tag}2", 8: "12345"})
    pharmacy, prescriber = people["pharmacy"], people["prescriber"]

    sent = send(stack, pharmacy, build([(pha(), records)], file_type="T"), "trial.dat")
    assert sent.status_code == 201, sent.text
    outcome = sent.json()
    summary = "test file: 1 record would have been accepted, 1 refused; nothing was recorded"
    assert (outcome["status"], outcome["test_file"], outcome["summary"]) == (
        "tested", True, summary
    )  # fmt: skip
    assert (outcome["counts"]["recorded"], outcome["counts"]["rejected"]) == (1, 1)
    path = f"/api/submissions/{outcome['submission_id']}"
    shown = api(stack, "GET", path, pharmacy).json()
    assert (shown["status"], shown["summary"], shown["counts"]["records"]) == ("tested", summary, 2)
    (error,) = api(stack, "GET", path + "/errors", pharmacy).json()["errors"]
    assert (error["field"], error["value"]) == ("DSP08", "12345")
    page = stack.get(f"/submissions/{outcome['submission_id']}", cookies=pharmacy.cookies())
    assert "Test file" in page.text and "nothing was recorded" in page.text

    # a production file sent after it: once its patient and its alert are shown, whatever
    # the test file could have brought to the patient histories and the alerts is there too
    marker = {7: "MARKWORTHY", 8: "MILO", 18: "19690101", 19: "M"}
    assert send(stack, pharmacy, build([(pha(), fill(tag, 3, marker))])).status_code == 201
    alerts_of(stack, prescriber, "MILO", "MARKWORTHY", "1969-01-01")
    assert found(stack, prescriber, "TESSA", "TRIALSDOTTIR", "1977-04-20")["persons"] == []

    # the same records in production: new, not "reported before"
    sent = send(stack, pharmacy, build([(pha(), records)]), "production.dat")
    recorded = sent.json()
    assert (recorded["status"], recorded["test_file"]) == ("accepted", False), sent.text
    assert (recorded["counts"]["recorded"], recorded["counts"]["rejected"]) == (1, 1)
    path = f"/api/submissions/{recorded['submission_id']}/errors"
    assert [e["field"] for e in api(stack, "GET", path, pharmacy).json()["errors"]] == ["DSP08"]
    report, alerts = alerts_of(stack, prescriber, "TESSA", "TRIALSDOTTIR", "1977-04-20")
    assert len(report["dispensations"]) == 1, "the production record, once"
    (alert,) = alerts["items"]
    assert "Peak 60.00 MME/day" in alert["evidence"], "of the production record alone"


def alerts_of(stack, user: User, first: str, last: str, born: str) -> tuple[dict, dict]:
    """The report of the one person a search finds, once it shows an alert, and its alerts."""

    def report_with_alerts():
        search = found(stack, user, first, last, born)
        if not search["persons"]:
            return None
        (person,) = search["persons"]
        params = {"person": person["person_id"]}
        path = f"/api/searches/{search['search_id']}/report"
        report = api(stack, "GET", path, user, params=params).json()
        return report["alerts"]["items"] and (report, report["alerts"])

    return wait_until(report_with_alerts, 60, f"{last}'s report with an alert", 0.5)
