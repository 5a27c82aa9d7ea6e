"""The walking skeleton end to end: ``pmp up``, every service, the relay, the broker, a
projection and the gateway, each in its own process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from pmp.db import open_postgresql, open_sqlite
from pmp.eventstore import events
from pmp.topology import SERVICE_NAMES
from services.audit import trail
from tests.helpers.commands import pmp
from tests.helpers.processes import Process, children_of, python, wait_until
from tests.helpers.stack import operator


def send_probe(stack) -> tuple[str, str]:
    """Send a pipeline probe; return its id and the request's correlation id."""
    response = stack.post("/api/diagnostics/probes", headers=operator())
    assert response.status_code == 202, response.text
    body = response.json()
    assert sorted(body["recorded"]) == sorted(SERVICE_NAMES) and body["failed"] == {}
    return body["probe_id"], response.headers["X-Correlation-ID"]


def probe_status(stack, probe_id: str) -> dict:
    response = stack.get(f"/api/diagnostics/probes/{probe_id}", headers=operator())
    assert response.status_code == 200, response.text
    return response.json()


def test_healthz_reports_the_broker_and_every_service_up(stack):
    response = stack.get("/healthz")
    assert response.status_code == 200, response.text
    health = response.json()
    assert health["status"] == "ok"
    assert health["broker"]["status"] == "ok"
    assert set(health["services"]) == set(SERVICE_NAMES)
    assert all(s["status"] == "ok" for s in health["services"].values()), health


def test_a_probe_travels_through_every_services_store_relay_and_reaches_the_query_projection(
    stack,
):
    probe_id, _ = send_probe(stack)
    status = wait_until(
        lambda: (s := probe_status(stack, probe_id))["complete"] and s,
        30,
        "every service's probe reached the query service",
    )
    assert set(status["arrived"]) == set(SERVICE_NAMES) and status["missing"] == []


def test_the_correlation_id_is_on_every_log_line_the_request_caused_in_every_service(stack):
    probe_id, correlation_id = send_probe(stack)
    wait_until(lambda: probe_status(stack, probe_id)["complete"], 30, "the probe arrived")

    lines = stack.log_lines()
    # HTTP at the gateway
    handled = [
        line
        for line in lines
        if line.get("service") == "gateway" and line.get("correlation_id") == correlation_id
    ]
    assert any(line["event"] == "request handled" for line in handled), "no gateway line"
    # RPC in each service: every line written by those workers carries the id
    recorded = [line for line in lines if line.get("probe_id") == probe_id]
    by_service = {line["service"] for line in recorded if line["event"] == "probe recorded"}
    assert by_service == set(SERVICE_NAMES)
    assert all(line.get("correlation_id") == correlation_id for line in recorded), [
        line for line in recorded if line.get("correlation_id") != correlation_id
    ]
    # the events those RPCs appended, projected by the query service
    arrived = [line for line in recorded if line["event"] == "probe arrived"]
    assert {line["source"] for line in arrived} == set(SERVICE_NAMES)
    assert all(line["service"] == "query" for line in arrived)


def test_rebuilding_a_projection_while_the_system_runs_ends_with_the_same_read_model(stack):
    probes = [send_probe(stack)[0] for _ in range(3)]
    for probe_id in probes:
        wait_until(lambda p=probe_id: probe_status(stack, p)["complete"], 30, "probe arrived")
    before = {p: probe_status(stack, p)["arrived"] for p in probes}

    rebuild = Process(
        "rebuild",
        python("-m", "pmp", "projections", "rebuild", "query.probe_arrivals"),
        stack.env,
        Path(stack.env["PMP_DATA_DIR"]),
    )
    assert rebuild.wait(timeout=120) == 0, rebuild.log()
    assert "read model emptied" in rebuild.log()
    assert "caught up" in rebuild.log() or "replayed" in rebuild.log()
    assert {p: probe_status(stack, p)["arrived"] for p in probes} == before


def test_a_stuck_service_is_reported_and_a_killed_one_restarted_while_the_others_carry_on(stack):
    identity = _child_running(stack.process.pid, "identity")
    os.kill(identity, signal.SIGSTOP)  # hung: alive to the supervisor, deaf to the broker
    try:
        health = wait_until(
            lambda: (h := stack.get("/healthz")).status_code == 503 and h.json(),
            30,
            "/healthz reported identity not answering",
        )
        assert health["services"]["identity"]["status"] == "down"
        others = {n: s["status"] for n, s in health["services"].items() if n != "identity"}
        assert set(others.values()) == {"ok"}, others
    finally:
        os.kill(identity, signal.SIGKILL)

    wait_until(lambda: stack.get("/healthz").status_code == 200, 60, "identity came back")
    assert "identity exited with -9; restarting" in stack.process.log()
    assert _child_running(stack.process.pid, "identity") != identity


def _child_running(parent: int, service: str) -> int:
    """The pid of ``pmp service <service>`` started by ``parent``."""
    for pid, cmdline in children_of(parent).items():
        if cmdline[-2:] == ["service", service]:
            return pid
    raise AssertionError(f"no running {service} under pmp up ({parent})")


def open_service_db(stack, service: str):
    if stack.env["PMP_DATABASE_URL"]:
        url, prefix = stack.env["PMP_DATABASE_URL"], stack.env["PMP_SCHEMA_PREFIX"]
        return open_postgresql(url, prefix + service)
    return open_sqlite(Path(stack.env["PMP_DATA_DIR"]) / f"{service}.sqlite")


def event_ids(stack, service: str, query) -> list:
    db = open_service_db(stack, service)
    try:
        with db.read() as conn:
            return list(conn.execute(query))
    finally:
        db.dispose()


def stored_ids(stack) -> dict[str, list]:
    """Every event id each service's store holds."""
    return {
        s: [r[0] for r in event_ids(stack, s, sa.select(events.c.event_id))] for s in SERVICE_NAMES
    }


def chained_ids(stack) -> dict[str, list]:
    """Every event id the audit trail holds, by the service it came from."""
    found: dict[str, list] = {s: [] for s in SERVICE_NAMES}
    query = sa.select(trail.entries.c.source, trail.entries.c.event_id)
    for source, event_id in event_ids(stack, "audit", query):
        found[source].append(event_id)
    return found


def assert_the_trail_is_complete_and_verifies(stack) -> None:
    stored = stored_ids(stack)
    assert all(stored.values()), "every service stored events"
    chained = wait_until(
        lambda: (
            (c := chained_ids(stack))
            and all(set(ids) <= set(c[s]) for s, ids in stored.items())
            and c
        ),
        60,
        "every stored event in the audit trail",
    )
    for service, ids in chained.items():
        assert len(ids) == len(set(ids)), f"an event of {service} was chained twice"
    verified = pmp("audit", "verify", env=stack.env_for_commands(), timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("intact: ")


def test_the_audit_trail_holds_every_event_of_every_service_once_and_verifies(stack):
    send_probe(stack)
    assert_the_trail_is_complete_and_verifies(stack)


def test_the_audit_service_killed_while_events_flow_loses_and_doubles_nothing(stack):
    stop = threading.Event()

    def keep_probing() -> None:
        while not stop.is_set():
            stack.post("/api/diagnostics/probes", headers=operator())
            time.sleep(0.05)

    prober = threading.Thread(target=keep_probing, daemon=True)
    prober.start()
    try:
        time.sleep(2)
        os.kill(_child_running(stack.process.pid, "audit"), signal.SIGKILL)
        wait_until(
            lambda: "audit exited with -9; restarting" in stack.process.log(), 30, "a restart"
        )
        time.sleep(2)  # events still flowing into the restarted service
    finally:
        stop.set()
        prober.join(timeout=30)
    wait_until(lambda: stack.get("/healthz").status_code == 200, 60, "audit came back")
    assert_the_trail_is_complete_and_verifies(stack)
