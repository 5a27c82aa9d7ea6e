"""Reads between services are bounded in bytes, and RPC requests do not outlive their callers.

A bulk intake writes ``DispensationsRecorded`` events of 1,000 records, about a megabyte
each. A ``read_events`` reply bounded only by an event count (500) grew to hundreds of
megabytes: past the RPC timeout, past RabbitMQ's 128 MiB message limit. And a request whose
caller timed out stayed in the durable ``rpc-<service>`` queue, to run at the service's next
start. Each test runs the real submissions service over its own vhost and store.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from nameko.exceptions import RpcTimeout

from pmp.sources import ClusterProxy, RpcSource
from tests.helpers.asap import build, pha, record
from tests.helpers.processes import Process, python, wait_until
from tests.helpers.stack import OPERATOR_TOKEN, free_port
from tests.infrastructure import drop_schemas

BUDGET = 3_000_000  # bytes of event data per read: two or three 1,000-record events
RECORDS = 12_000  # a dozen events of about a megabyte


@dataclass
class Service:
    env: dict[str, str]
    logs: Path
    process: Process | None = None

    def start(self) -> None:
        self.process = Process(
            "submissions", python("-m", "pmp", "service", "submissions"), self.env, self.logs
        )
        proxy = ClusterProxy(self.env["PMP_AMQP_URI"], 5)
        try:
            wait_until(
                lambda: proxy()["submissions"].ping(),
                90,
                "submissions answers",
                watch=[self.process],
            )
        finally:
            proxy.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request, broker, tmp_path) -> Iterator[Service]:
    """The submissions service's settings over a store of its own (not yet started)."""
    env = {
        "PMP_AMQP_URI": broker.create_vhost(),
        "PMP_DATA_DIR": str(tmp_path / "data"),
        "PMP_DATABASE_URL": "",
        "PMP_READ_BYTES": str(BUDGET),
        "PMP_RPC_TIMEOUT": "2",
        "PMP_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "PMP_GATEWAY_ADDRESS": f"127.0.0.1:{free_port()}",
        "PMP_POLL_INTERVAL": "0.5",
        "PMP_SECRET_KEY": "bounded-reads-test-key",
    }
    if request.param == "postgresql":
        env["PMP_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        env["PMP_SCHEMA_PREFIX"] = f"t{uuid.uuid4().hex[:10]}_"
    service = Service(env, tmp_path)
    try:
        yield service
    finally:
        service.stop()
        broker.delete_vhost(env["PMP_AMQP_URI"])
        if request.param == "postgresql":
            drop_schemas(env["PMP_DATABASE_URL"], env["PMP_SCHEMA_PREFIX"])


def ingest(service: Service, path: Path) -> None:
    result = subprocess.run(
        python("-m", "pmp", "ingest", str(path)),
        env={**os.environ, **service.env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"pmp ingest failed:\n{result.stdout}\n{result.stderr}"


def test_a_read_of_large_events_returns_whole_events_up_to_the_byte_budget(service, tmp_path):
    file = tmp_path / "bulk.dat"
    file.write_bytes(build([(pha(), [s for n in range(RECORDS) for s in record(n)])]))
    ingest(service, file)
    service.start()
    proxy = ClusterProxy(service.env["PMP_AMQP_URI"], 30)
    try:
        first = proxy()["submissions"].read_events(after_position=0, limit=500)
        size = len(json.dumps(first))
        assert len(first) == 1 or size <= BUDGET * 1.2, (
            f"{len(first)} events in one reply of {size:,} bytes; the budget is {BUDGET:,}"
        )
        source = RpcSource("submissions", proxy)  # the service's own bound applies
        after, records, replies = 0, 0, 0
        while batch := source.read(after, 500):
            assert [e.position for e in batch] == list(range(after + 1, after + 1 + len(batch)))
            replies += 1
            records += sum(
                len(e.data["records"]) for e in batch if e.type == "DispensationsRecorded"
            )
            after = batch[-1].position
        assert records == RECORDS
        assert replies >= RECORDS // 1000 // 3, "every large event came, in bounded replies"
    finally:
        proxy.close()


def test_requests_whose_callers_timed_out_are_not_run_when_the_service_starts(service, tmp_path):
    service.start()  # declares its durable request queue
    service.stop()
    gateway = Process("gateway", python("-m", "pmp", "service", "gateway"), service.env, tmp_path)
    url = f"http://{service.env['PMP_GATEWAY_ADDRESS']}/api/diagnostics/probes"
    proxy = ClusterProxy(service.env["PMP_AMQP_URI"], 1)
    expired: list[str] = []
    try:
        wait_until(lambda: _answers(url), 60, "the gateway answers", watch=[gateway])
        for _ in range(3):  # the projectors' client: a read of another service, timed out
            probe = str(uuid.uuid4())
            with pytest.raises(RpcTimeout):
                proxy()["submissions"].record_probe(probe_id=probe)
            expired.append(probe)
        for _ in range(3):  # the gateway: every service asked, submissions does not answer
            answer = requests.post(url, headers=_operator(), timeout=30).json()
            assert "submissions" in answer["failed"], answer
            expired.append(answer["probe_id"])
        service.start()
        fresh = str(uuid.uuid4())
        proxy = _reopened(proxy, service)
        proxy()["submissions"].record_probe(probe_id=fresh)  # queued after the expired ones
        probes = {
            e["data"]["probe_id"]
            for e in proxy()["submissions"].read_events(after_position=0, limit=500)
            if e["type"] == "ProbeRecorded"
        }
    finally:
        proxy.close()
        gateway.stop()
    assert fresh in probes
    assert not probes & set(expired), "requests nobody awaited ran when the service started"


def _reopened(proxy: ClusterProxy, service: Service) -> ClusterProxy:
    proxy.close()
    return ClusterProxy(service.env["PMP_AMQP_URI"], 30)


def _answers(url: str) -> bool:
    try:
        requests.get(url.rsplit("/api", 1)[0] + "/healthz", timeout=5)
    except requests.RequestException:
        return False
    return True


def _operator() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
