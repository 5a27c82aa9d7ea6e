"""Experiment 5 of issue 23: two query replicas under a bounded lookup load through the
gateway; kill -9 the one that leads the projections. No lookup fails beyond one retry (the
broker hands the dead replica's unacknowledged requests to the living one), and the
survivor takes the projections' leadership: new records reach its read model."""

from __future__ import annotations

import threading
import time
from collections import Counter

import requests

from tests.faults.converge import converge
from tests.faults.processes import kill_service
from tests.faults.sizes import size
from tests.faults.workload import asap_file, ingest
from tests.helpers.accounts import create_first_administrator, create_user, ready
from tests.helpers.processes import Process, python, wait_until

CLIENTS = 4
LOOKUPS = size(100, 1000)  # answered before the kill, and again after it
SEARCH = {
    "criteria": {"first_name": "Nobody", "last_name": "Atall", "birth_date": "1970-01-01"},
    "purpose": {"kind": "treating", "attested": True},
}
LEADS = '"leading the projection"'


def test_a_killed_query_replica_fails_no_lookup_and_the_survivor_leads(fault_stack, tmp_path):
    admin = ready(fault_stack, create_first_administrator(fault_stack, tmp_path))
    prescriber = ready(fault_stack, create_user(fault_stack, admin, "prescriber", tmp_path))
    second = Process("query-2", python("-m", "pmp", "service", "query"), fault_stack.env, tmp_path)
    outcomes: Counter[str] = Counter()
    stop = threading.Event()

    def client() -> None:
        with requests.Session() as session:
            session.headers.update(prescriber.headers)
            while not stop.is_set():
                for attempt in ("first", "retry"):
                    try:
                        status = session.post(
                            fault_stack.url + "/api/searches", json=SEARCH, timeout=30
                        ).status_code
                    except requests.RequestException as exc:
                        status = type(exc).__name__
                    outcomes[f"{status} on {attempt}"] += 1
                    if status == 200:
                        break

    clients = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for thread in clients:
        thread.start()
    try:
        wait_until(lambda: outcomes["200 on first"] >= LOOKUPS, 300, "lookups answered")
        wait_until(lambda: second.log().count("patient searched") >= 5, 120,
                   "the second replica answered lookups too", watch=[second])  # fmt: skip
        assert LEADS not in second.log()  # the first replica, started by pmp up, leads
        answered = outcomes["200 on first"] + outcomes["200 on retry"]
        killed_at = time.monotonic()
        kill_service(fault_stack, "query")
        wait_until(
            lambda: any(LEADS in line and "query.patient_history" in line
                        for line in second.log().splitlines()),
            120, "the second replica leads query.patient_history", watch=[second],
        )  # fmt: skip
        took_over = time.monotonic() - killed_at
        ingest(fault_stack, asap_file(tmp_path / "after.dat", 0, 100))
        seconds = converge(fault_stack, 180)
        wait_until(lambda: sum(n for k, n in outcomes.items() if k.startswith("200"))
                   >= answered + LOOKUPS, 300, "lookups answered after the kill")  # fmt: skip
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
        second.stop()
    failed = {k: n for k, n in outcomes.items() if not k.startswith("200")}
    print(
        f"experiment 5: outcomes {dict(outcomes)}; the survivor led {took_over:.1f} s after "
        f"the kill; 100 records after it converged in {seconds:.1f} s"
    )
    assert not {k: n for k, n in failed.items() if k.endswith("on retry")}, outcomes
