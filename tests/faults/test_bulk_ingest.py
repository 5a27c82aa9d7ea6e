"""Experiment 0 of issue 23: a bulk ``pmp ingest`` on PostgreSQL converges.

A 200,000-record ingest once stopped the relay and every projection reading submissions for
good: reads between services were bounded by event counts only, and 1,000-record events made
replies of hundreds of megabytes. Here a whole file goes in with ``pmp ingest``; the check is
that every record reaches query, alerts and the audit trail (``pmp check``), that no service
restarted, that no message came near RabbitMQ's 128 MiB limit (the largest event, which the
relay publishes as one message, and the largest ``read_events`` reply, read the way the
projectors read), and each service's peak memory (VmHWM), printed and bounded. While the
ingest runs and the pipeline catches up, the alerts service is pinged twice a second and the
answer times are printed: a service whose queries held its whole process answered in 3 to
28 s, so /healthz said 503 for as long (issue 23, item 8).

``make faults``: 1,000,000 records with default settings. ``make test``: 5,000 records and
a read budget of one such event, so every read between services is cut by bytes.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from benchmarks.population import population
from pmp.sources import ClusterProxy
from pmp.topology import SERVICE_NAMES
from tests.faults.converge import converge
from tests.faults.processes import service_pid
from tests.faults.sizes import FULL, size
from tests.faults.stack import FaultStack, fault_stack_of
from tests.faults.workload import ingest

RECORDS = size(5_000, 1_000_000)
READ_BYTES = 1_500_000  # bounded form: about one 1,000-record event per read
BROKER_LIMIT = 128 * 1024 * 1024
NEAR = BROKER_LIMIT // 4  # "near the limit": no message may reach a quarter of it
PEAK_RSS_MB = 1500  # what no service may need, whatever the file's size


@pytest.fixture(params=["postgresql"])
def bulk_stack(request, broker, tmp_path_factory) -> Iterator[FaultStack]:
    settings = {} if FULL else {"PMP_READ_BYTES": str(READ_BYTES)}
    with fault_stack_of(request, broker, tmp_path_factory, settings) as stack:
        yield stack


@pytest.mark.timeout(size(1200, 14400))
def test_a_bulk_ingest_converges_with_bounded_messages_and_memory(bulk_stack, tmp_path):
    stack = bulk_stack
    path = tmp_path / "bulk.dat"
    persons = population(tmp_path, path, RECORDS)
    names = [*SERVICE_NAMES, "gateway"]
    pids = {name: service_pid(stack, name) for name in names}
    started = time.monotonic()
    with Pings(stack, "alerts") as pings:
        said = ingest(stack, path)
        ingested = time.monotonic() - started
        seconds = converge(stack, size(600, 7200))
    assert {name: service_pid(stack, name) for name in names} == pids, "a service restarted"

    peaks = {name: _peak_rss_mb(pid) for name, pid in pids.items()}
    largest_event = max(_largest_event(stack, name) for name in SERVICE_NAMES)
    largest_reply, replies = _largest_reply(stack, "submissions")
    print(
        f"experiment 0: {RECORDS:,} records of {len(persons):,} persons; pmp ingest "
        f"{ingested:.0f} s ({said.strip().splitlines()[-1] if said.strip() else ''}); "
        f"converged {seconds:.0f} s after it; largest event {largest_event:,} bytes; largest "
        f"read_events reply {largest_reply:,} bytes of {replies} replies; peak RSS MB "
        + ", ".join(f"{name} {mb:.0f}" for name, mb in peaks.items())
        + f"; alerts ping meanwhile: {pings.summary()}"
    )
    assert largest_event < NEAR
    assert largest_reply < NEAR
    assert all(mb < PEAK_RSS_MB for mb in peaks.values()), peaks


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmHWM for {pid}")


def _largest_event(stack: FaultStack, service: str) -> int:
    """The largest event data in ``service``'s store: the relay publishes each as one
    message (its body: this and an envelope of a few hundred bytes)."""
    schema = stack.direct_env["PMP_SCHEMA_PREFIX"] + service
    engine = sa.create_engine(stack.direct_env["PMP_DATABASE_URL"], poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return conn.scalar(
                sa.text(f'SELECT coalesce(max(octet_length(data::text)), 0) FROM "{schema}".events')
            )
    finally:
        engine.dispose()


def _largest_reply(stack: FaultStack, service: str) -> tuple[int, int]:
    """The largest ``read_events`` reply of ``service``, read from 0 to its head as a
    projector reads it (500 events asked each time), in bytes; and how many replies."""
    proxy = ClusterProxy(stack.direct_env["PMP_AMQP_URI"], 60)
    largest, replies, after = 0, 0, 0
    try:
        while reply := proxy()[service].read_events(after_position=after, limit=500):
            largest = max(largest, len(json.dumps(reply)))
            replies += 1
            after = reply[-1]["position"]
    finally:
        proxy.close()
    return largest, replies


class Pings:
    """``service.ping`` every half second in a background thread, each answer timed."""

    def __init__(self, stack: FaultStack, service: str):
        self.service = service
        self.seconds: list[float] = []
        self.failed = 0
        self._proxy = ClusterProxy(stack.direct_env["PMP_AMQP_URI"], 120)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._ping, daemon=True)

    def __enter__(self) -> Pings:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=150)
        self._proxy.close()

    def _ping(self) -> None:
        while not self._stop.wait(0.5):
            asked = time.monotonic()
            try:
                self._proxy()[self.service].ping()
            except Exception:  # unanswered in 120 s, or the broker failed: counted
                self.failed += 1
                continue
            self.seconds.append(time.monotonic() - asked)

    def summary(self) -> str:
        if not self.seconds:
            return "no answer"
        times = sorted(self.seconds)
        p90 = times[int(0.9 * (len(times) - 1))]
        return (
            f"median {statistics.median(times):.2f} s, p90 {p90:.2f} s, "
            f"max {times[-1]:.2f} s ({len(times)} pings, {self.failed} unanswered)"
        )
