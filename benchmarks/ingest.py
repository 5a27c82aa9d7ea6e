"""(e) Ingest throughput: an ASAP file of N records, from file to events committed, through
``pmp ingest`` in its own processes (SQLite, embedded mode), with their peak memory; and to
events relayed: the relay publishing beside it until a consumer has every record.

The file repeats the dispensation groups of the demo data (``pmp demo-data``: realistic
patients, prescribers, pharmacies and NDCs) under fresh prescription numbers, so every record
is new and every patient is linked. Goal from the issue: 20,000 records/s on this 2-core
machine; peak memory under 500 MB for 1,000,000 records.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import kombu

from benchmarks import alerts_watch
from benchmarks.common import AMQP_URI, Result
from pmp.broker import EventPublisher, event_exchange
from pmp.db import open_sqlite
from pmp.eventstore import EventStore
from pmp.relay import Relay
from services.submissions.asap import Record, read_records
from services.submissions.asap_writer import AsapWriter
from services.submissions.demo import write_demo_files
from services.submissions.schemas import submissions_events

RECORDS = 1_000_000
CAPACITY = (20_000, 200_000)  # persons, records
WATCH_CAP = 600.0  # seconds the alerts watch may take before its rate is taken as it stands


def demo_groups(folder: Path) -> list[Record]:
    groups: list[Record] = []
    for path in write_demo_files(folder / "demo", seed=7, patients=2000, months=6):
        with path.open("rb") as file:
            groups += [
                item for item in read_records(file, datetime.now(UTC)) if isinstance(item, Record)
            ]
    return groups


def write_file(path: Path, records: int, groups: list[Record]) -> None:
    with path.open("wb") as file, AsapWriter(file, "BENCH1", datetime.now(UTC)) as writer:
        writer.open_pharmacy(groups[0].pharmacy)
        for n in range(records):
            group = groups[n % len(groups)]
            dispensation = {**group.dispensation, "prescription_number": f"B{n:09d}"}
            writer.add_dispensation(group.patient, dispensation, group.prescriber)
        writer.close_pharmacy()


class TreeMemory(threading.Thread):
    """The peak resident memory of a process and its children together (``pmp ingest``
    reads in a second process), sampled every 100 ms from /proc."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_mb, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self.peak_mb = max(self.peak_mb, sum(map(_rss_mb, _tree(self.pid))))


def _tree(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += _tree(int(child))
    return found


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Relayed(threading.Thread):
    """The submissions service's relay (``pmp.relay.Relay``) publishing what the intake
    commits, and a consumer on a connection of its own counting the dispensations that reach
    it (a consumer sharing the relay's loop would take one message per round and fall
    behind, timing itself rather than the relay)."""

    def __init__(self, store_path: Path, records: int):
        super().__init__(daemon=True)
        self.service = f"bench{uuid.uuid4().hex[:8]}"
        self.store = EventStore(open_sqlite(store_path), submissions_events())
        self.store.create_tables()
        self.relay = Relay(self.store, EventPublisher(AMQP_URI, self.service), batch_size=20)
        self.relay.create_tables()
        self.records, self.received, self.finished_at = records, 0, 0.0
        self.listening = threading.Event()
        self.queue = kombu.Queue(
            f"bench-{self.service}", event_exchange(self.service),
            routing_key="DispensationsRecorded", auto_delete=True,
        )  # fmt: skip

    def run(self) -> None:
        consumer = threading.Thread(target=self._consume, daemon=True)
        consumer.start()
        self.listening.wait(30)
        while consumer.is_alive():
            if not self.relay.relay_once():
                time.sleep(0.02)
        with kombu.Connection(AMQP_URI) as conn:
            event_exchange(self.service)(conn.default_channel).delete()
        self.relay.publisher.close()
        self.store.db.dispose()

    def _consume(self) -> None:
        with kombu.Connection(AMQP_URI) as conn:
            channel = conn.default_channel
            self.queue(channel).declare()

            def count(message) -> None:  # delivered records, counted without decoding
                body = message.body  # text: the relay sends content_encoding utf-8
                self.received += body.count(
                    '"dispensation_id"' if type(body) is str else b'"dispensation_id"'
                )

            channel.basic_consume(self.queue.name, no_ack=True, callback=count)
            self.listening.set()
            deadline = time.monotonic() + 3600
            while self.received < self.records and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=1)
                except TimeoutError:
                    continue
            self.finished_at = time.perf_counter()


def run(records: int = RECORDS) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        big = folder / "bench.dat"
        write_file(big, records, demo_groups(folder))
        size_mb = big.stat().st_size / 1e6
        env = {"PMP_DATA_DIR": str(folder / "var"), "PATH": "/usr/bin:/bin"}
        (folder / "var").mkdir()
        relayed = Relayed(folder / "var" / "submissions.sqlite", records)
        started, started_wall = time.perf_counter(), time.time()
        relayed.start()
        watch = subprocess.Popen(  # the alerts service's evaluation, beside the intake
            [sys.executable, "-m", "benchmarks.alerts_watch", str(folder / "var" /
             "submissions.sqlite"), str(folder / "alerts.sqlite"), str(records), str(WATCH_CAP)],
            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1],
        )  # fmt: skip
        ingest = subprocess.Popen(
            [sys.executable, "-m", "pmp", "ingest", str(big)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=Path(__file__).resolve().parents[1],
        )
        memory = TreeMemory(ingest.pid)
        memory.start()
        _, stderr = ingest.communicate()
        committed = time.perf_counter() - started
        memory.stop.set()
        if ingest.returncode != 0:
            raise RuntimeError(f"pmp ingest failed: {stderr[-2000:]}")
        relayed.join()
        if relayed.received != records:
            raise RuntimeError(f"the consumer received {relayed.received:,} of {records:,}")
        both = max(relayed.finished_at - started, committed)  # the later of the two
        watched = json.loads(watch.communicate()[0].strip().splitlines()[-1])
        (folder / "capacity").mkdir()
        capacity, capacity_events = alerts_watch.capacity(folder / "capacity", *CAPACITY)
    evaluated_s = watched["finished"] - started_wall
    peak_mb = memory.peak_mb
    note = (
        f"{records:,} records, {size_mb:,.0f} MB file, {committed:,.1f} s; "
        f"peak memory {peak_mb:,.0f} MB (goal < 500 MB: {'met' if peak_mb < 500 else 'NOT met'})"
    )
    common = {"benchmark": "e", "peer": 0.0, "peer_name": "none", "goal_ratio": 0.0}
    return [
        Result(case="ingest, file to events committed", unit="records/s",
               ours=records / committed, goal=20_000, note=note, **common),
        Result(case="ingest, file to events committed and relayed", unit="records/s",
               ours=records / both, goal=20_000, note=f"{both:,.1f} s until a consumer of "
               "DispensationsRecorded had every record; the relay ran beside the intake",
               **common),
        Result(case="ingest peak memory (both processes)", unit="MB", ours=peak_mb,
               note="lower is better", **common),
        Result(case="alerts evaluated while ingesting", unit="records/s",
               ours=watched["evaluated"] / evaluated_s, goal=20_000,
               note=f"{watched['evaluated']:,} of {records:,} records evaluated by the alerts "
               f"watch (own process, reading the submissions store) {evaluated_s:,.1f} s after "
               f"the ingest began; {watched['alert_events']:,} alert events"
               + ("" if watched["evaluated"] == records else
                  f"; stopped after {WATCH_CAP:.0f} s") + f"; watch peak memory "
               f"{watched['peak_mb']:,.0f} MB; this file repeats 2,000 patients, so each ends "
               "with about 500 fills in six months, every one evaluated again at the end of "
               "each batch that touches the patient", **common),
        Result(case="alerts evaluation capacity, realistic population", unit="records/s",
               ours=capacity, goal=20_000,
               note=f"the watch alone catching up on {CAPACITY[1]:,} committed records of "
               f"{CAPACITY[0]:,} persons (about ten fills each over six months); "
               f"{capacity_events:,} alert events", **common),
    ]  # fmt: skip
