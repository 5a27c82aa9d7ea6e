"""One bad record must not silence clinical alerts (issue 22).

A dispensation filled on 9999-12-31 reaches the submissions store (written there directly:
intake now refuses such a date, but a store can hold what an older intake let through).
The alerts watch cannot evaluate its patient. A patient at 360 MME/day loaded afterwards
must still get an alert; the bad event is set aside, /healthz and /status say degraded
with the count, ``pmp projections set-aside`` lists it, ``retry`` (asking the running
service) leaves it there with its new error, and ``dismiss`` makes the status ok again.
"""

from __future__ import annotations

import copy
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

from pmp.config import load_settings
from pmp.db import open_database
from pmp.envelope import Metadata, NewEvent
from pmp.eventstore import EventStore
from pmp.topology import SERVICES
from services.submissions.schemas import submissions_events
from tests.helpers import commands
from tests.helpers.accounts import api
from tests.helpers.asap import build, pha, record
from tests.helpers.processes import wait_until
from tests.helpers.program_day import program_today
from tests.integration.test_submissions_api import send

OXYCODONE_ER_10MG = "00093002401"  # 10 mg, MME factor 1.5: 720 tablets over 30 days = 360


def patient(last: str, born: str) -> dict:
    return {7: last, 8: "MARGO", 12: "9 TIDE LN", 14: "NOANK", 15: "CT", 16: "06340", 18: born}


def fill(rx: int, who: dict, quantity: int) -> list:
    when = (program_today() - timedelta(days=3)).strftime("%Y%m%d")
    return record(rx, pat=who, dsp={3: when, 5: when, 8: OXYCODONE_ER_10MG, 9: str(quantity)})


def pmp(stack, *args: str) -> subprocess.CompletedProcess:
    return commands.pmp("projections", *args, env=stack.env_for_commands())


def far_future_dispensations(stack, template_last_name: str) -> uuid.UUID:
    """Append to the submissions store a copy of the recorded event of ``template_last_name``
    with its fill twice on 9999-12-31 (as a refill sent twice); return the new event's id."""
    db = open_database(load_settings(stack.env), "submissions", pool_size=1)
    try:
        store = EventStore(db, submissions_events())
        recorded = [
            e
            for e in store.read_all(0, 100_000)
            if e.type == "DispensationsRecorded"
            and any(r["patient"].get("last_name") == template_last_name for r in e.data["records"])
        ]
        data = copy.deepcopy(recorded[-1].data)
        data["submission_id"] = str(uuid.uuid4())
        good = data["records"][0]
        data["records"] = []
        for _ in range(2):
            bad = copy.deepcopy(good)
            bad["dispensation_id"] = str(uuid.uuid4())
            bad["dispensation"]["date_filled"] = "9999-12-31"
            data["records"].append(bad)
        event = NewEvent("DispensationsRecorded", data, Metadata(datetime.now(UTC)))
        store.append(f"submission-{data['submission_id']}", 0, [event])
        return event.event_id
    finally:
        db.dispose()


def alerts_of(stack, user, last: str, born: str) -> list[dict]:
    body = {
        "criteria": {"first_name": "MARGO", "last_name": last, "birth_date": born},
        "purpose": {"kind": "treating", "attested": True},
    }
    found = api(stack, "POST", "/api/searches", user, json=body).json()
    if not found.get("persons"):
        return []
    persons = [("person", p["person_id"]) for p in found["persons"]]
    report = api(stack, "GET", f"/api/searches/{found['search_id']}/report", user, params=persons)
    return report.json()["alerts"]["items"] if report.status_code == 200 else []


def test_a_far_future_fill_is_set_aside_and_later_alerts_are_still_raised(stack, people):
    tag = uuid.uuid4().hex[:6].upper()
    first, second = f"ZZFIRST{tag}", f"ZZSECOND{tag}"
    sent = send(
        stack, people["pharmacy"], build([(pha(), fill(8801, patient(first, "19580203"), 30))])
    )
    assert sent.status_code == 201, sent.text
    poison = far_future_dispensations(stack, first)

    sent = send(
        stack, people["pharmacy"], build([(pha(), fill(8802, patient(second, "19590304"), 720))])
    )
    assert sent.status_code == 201, sent.text
    try:
        alerts = wait_until(
            lambda: alerts_of(stack, people["prescriber"], second, "1959-03-04"),
            60,
            "the 360 MME/day patient's alert, raised after the far-future fill",
        )
        assert [(a["rule"], a["level"]) for a in alerts] == [("daily_mme", "alert")]
        assert "Peak 360.00 MME/day" in alerts[0]["evidence"]

        health = stack.get("/healthz")
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "degraded"
        assert all(s["status"] == "ok" for s in body["services"].values())
        watch = body["projections"]["alerts.watch"]
        assert (watch["status"], watch["set_aside"], watch["service"]) == ("set_aside", 1, "alerts")
        assert body["projections"]["query.patient_history"]["status"] == "ok"

        page = stack.get("/status")
        assert "Degraded: 1 read model behind or with events set aside" in page.text
        assert "<code>alerts.watch</code>" in page.text and "Events set aside" in page.text

        listed = pmp(stack, "set-aside")
        assert listed.returncode == 0, listed.stderr
        [line] = [x for x in listed.stdout.splitlines() if str(poison) in x]
        assert line.startswith("alerts.watch  submissions position ")
        assert "DispensationsRecorded" in line and "tries 3" in line
        error = listed.stdout.split(line, 1)[1].splitlines()[1]
        assert "OverflowError" in error and "services/alerts/" in error
        assert first not in listed.stdout and "MARGO" not in listed.stdout  # no patient data

        # Retried without a fix, through the running alerts service: it fails again and stays.
        retried = pmp(stack, "retry", "alerts.watch", "--event", str(poison))
        assert retried.returncode == 1, retried.stdout + retried.stderr
        assert "alerts.watch: 0 of 1 applied" in retried.stdout
        assert f"still set aside: event {poison} DispensationsRecorded: OverflowError" in (
            retried.stdout
        )
        assert "tries 4" in pmp(stack, "set-aside").stdout
    finally:
        dismissed = pmp(stack, "dismiss", "alerts.watch", "--event", str(poison))
    assert dismissed.returncode == 0, dismissed.stdout + dismissed.stderr
    wait_until(lambda: stack.get("/healthz").status_code == 200, 30, "/healthz ok once dismissed")


def test_healthz_reports_each_projection_reaction_and_relay_current(stack):
    expected = {f"{spec.name}.relay" for spec in SERVICES}
    for spec in SERVICES:
        kernel = spec.load().kernel
        expected |= {c.name for c in (*kernel.projection_types, *kernel.reaction_types)}
    health = wait_until(
        lambda: (h := stack.get("/healthz")).status_code == 200 and h.json(), 60, "all current"
    )
    assert set(health["projections"]) == expected
    watch = health["projections"]["alerts.watch"]
    assert (watch["service"], watch["kind"], watch["leads"]) == ("alerts", "projection", True)
    assert set(watch["positions"]) == {"submissions", "alerts"}
    assert watch["lag_seconds"] <= health["lag_limit_seconds"] == 60
    assert health["projections"]["helpdesk.mail"]["kind"] == "reaction"
    assert all(p["status"] == "ok" and p["set_aside"] == 0 for p in health["projections"].values())
    page = stack.get("/status").text
    assert "<code>audit.trail</code>" in page and "<code>query.relay</code>" in page
