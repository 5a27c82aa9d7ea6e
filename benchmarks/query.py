"""(f) Lookups per core: what a search and its report cost the whole system, and how fast
they feel, with N dispensations loaded, on the embedded SQLite stores and on PostgreSQL.

For each backend the whole system runs as ``make run`` runs it (``benchmarks/system.py``)
and is measured in this order (goals from the "Lookups per core" issue):

- CPU per pair, JSON and PDF: every process of the system (gateway, each service, RabbitMQ,
  the database server on PostgreSQL; not the load client) over a fixed number of pairs at
  ``CPU_CLIENTS`` closed-loop clients, its idle CPU subtracted, split per process;
- one user alone: p50 and p99 of JSON pairs one after another;
- open loop: Poisson arrivals of JSON pairs at 50/s and of PDF pairs at 10/s, p99 from each
  pair's scheduled start; while the JSON load runs, single-record files are sent through
  the gateway and the time until a search finds each is the projection lag;
- closed loop, 50 clients: JSON pairs per second per core of the machine;
- py-spy's top frames of the gateway, query and audit under the CPU measure's load.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import requests

from benchmarks import cpu, flames
from benchmarks.common import Result
from benchmarks.lookups import Samples, closed_loop, one_user, open_loop, search
from benchmarks.population import Person, demo_records, population
from benchmarks.system import BACKENDS, System
from services.submissions.asap_writer import AsapWriter

RECORDS = 1_000_000
CPU_CLIENTS = 8
CPU_PAIRS = {False: 1000, True: 300}  # JSON, PDF
IDLE_SECONDS = 20.0
ONE_USER_PAIRS = 300
OPEN_SECONDS = 60.0
OPEN_RATES = {False: 50.0, True: 10.0}
CLOSED_CLIENTS = 50
CLOSED_SECONDS = 20.0
FLAME_SECONDS = 20
LAG_FILES = 20
PRESCRIBERS = 10  # clients share them: each signs in as one (misuse checks are per user)
GOALS = {
    "cpu json": 8.0, "cpu pdf": 30.0, "one p50": 25.0, "one p99": 60.0,
    "open json": 100.0, "open pdf": 300.0, "per core": 100.0, "lag": 0.5,
}  # fmt: skip


def run(records: int = RECORDS, backends: tuple[str, ...] = BACKENDS) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        folder = Path(tmp)
        bench_file = folder / "population.dat"
        persons = population(folder, bench_file, records)
        results: list[Result] = []
        for backend in backends:
            system = System(folder / backend, backend)
            try:
                results += _measure(system, bench_file, records, persons)
            finally:
                system.stop()
        return results


def _measure(system: System, bench_file: Path, records: int, persons: list[Person]) -> list[Result]:
    loaded = system.load(bench_file, records)
    prescribers = [system.token("prescriber") for _ in range(PRESCRIBERS)]
    prescriber, submitter = prescribers[0], system.token("data_submitter")
    url = system.url
    closed_loop(url, prescribers, persons, pdf=False, clients=CPU_CLIENTS, seconds=5)  # warm up
    closed_loop(url, prescribers, persons, pdf=True, clients=CPU_CLIENTS, seconds=5)

    roots = [cpu.pmp_up(system.pid), cpu.rabbitmq()]
    if system.backend == "postgresql":
        roots.append(cpu.postgresql())
    meter = cpu.Meter(roots)
    meter.measure_idle(IDLE_SECONDS)
    per_pair: dict[bool, tuple[float, dict[str, float]]] = {}
    for pdf in (False, True):
        pairs = CPU_PAIRS[pdf]
        used, _ = meter.during(lambda pdf=pdf, pairs=pairs: closed_loop(
            url, prescribers, persons, pdf=pdf, clients=CPU_CLIENTS, pairs=pairs))  # fmt: skip
        per_pair[pdf] = (1000 * sum(used.values()) / pairs, {k: 1000 * v / pairs for k, v in
                                                             used.items()})  # fmt: skip

    alone = one_user(url, prescriber, persons, ONE_USER_PAIRS)
    lags: list[float] = []
    lagging = threading.Thread(target=lambda: lags.extend(_lags(system, submitter, prescriber)))
    lagging.start()
    open_json = open_loop(url, prescribers, persons, False, OPEN_RATES[False], OPEN_SECONDS)
    lagging.join()
    open_pdf = open_loop(url, prescribers, persons, True, OPEN_RATES[True], OPEN_SECONDS)
    closed = closed_loop(url, prescribers, persons, False, CLOSED_CLIENTS, seconds=CLOSED_SECONDS)
    frames = flames.top_frames(
        {name: system.service_pid(name) for name in ("gateway", "query", "audit")},
        FLAME_SECONDS,
        lambda: closed_loop(url, prescribers, persons, False, CPU_CLIENTS, seconds=FLAME_SECONDS),
    )
    where = (
        f"{system.backend}; {records:,} dispensations of {len(persons):,} persons loaded and "
        f"projected in {loaded:,.0f} s"
    )
    return _rows(system.backend, where, per_pair, alone, open_json, open_pdf, closed, lags,
                 frames)  # fmt: skip


def _rows(
    backend: str,
    where: str,
    per_pair: dict[bool, tuple[float, dict[str, float]]],
    alone: Samples,
    open_json: Samples,
    open_pdf: Samples,
    closed: Samples,
    lags: list[float],
    frames: list[str],
) -> list[Result]:
    def row(case: str, unit: str, ours: float, goal: float, note: str, lower: bool = True,
            details: list[str] | None = None) -> Result:  # fmt: skip
        return Result(benchmark="f", case=f"{backend}: {case}", unit=unit, ours=ours, peer=0.0,
                      peer_name="none", goal_ratio=0.0, goal=goal, lower_is_better=lower,
                      note=f"{where}; {note}", details=details or [])  # fmt: skip

    def split(parts: dict[str, float]) -> str:
        shown = sorted(parts.items(), key=lambda kv: -kv[1])
        return "per process (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in shown if v >= 0.05)

    cores = os.cpu_count() or 1
    json_ms, json_split = per_pair[False]
    pdf_ms, pdf_split = per_pair[True]
    return [
        row("CPU per search + report JSON pair", "ms", json_ms, GOALS["cpu json"],
            f"{CPU_PAIRS[False]} pairs at {CPU_CLIENTS} clients, idle subtracted; "
            + split(json_split), details=frames),
        row("CPU per search + report PDF pair", "ms", pdf_ms, GOALS["cpu pdf"],
            f"{CPU_PAIRS[True]} pairs at {CPU_CLIENTS} clients; " + split(pdf_split)),
        row("one user, search + report JSON, p50", "ms", alone.quantile(0.5), GOALS["one p50"],
            f"{len(alone.ms)} pairs one after another"),
        row("one user, search + report JSON, p99", "ms", alone.quantile(0.99), GOALS["one p99"],
            f"{len(alone.ms)} pairs one after another"),
        row("open loop, 50 JSON pairs/s, p99", "ms", open_json.quantile(0.99),
            GOALS["open json"], _open_note(open_json)),
        row("open loop, 10 PDF pairs/s, p99", "ms", open_pdf.quantile(0.99), GOALS["open pdf"],
            _open_note(open_pdf)),
        row("closed loop, 50 clients, JSON pairs/s per core", "pairs/s",
            len(closed.ms) / closed.wall / cores, GOALS["per core"],
            f"{len(closed.ms):,} pairs in {closed.wall:.0f} s on {cores} cores; p50 "
            f"{closed.quantile(0.5):.0f} ms, p99 {closed.quantile(0.99):.0f} ms", lower=False),
        row("projection lag under 50 pairs/s, p99", "s", Samples(lags).quantile(0.99), GOALS["lag"],
            f"{len(lags)} one-record files sent through the gateway; median "
            f"{statistics.median(lags):.2f} s, max {max(lags):.2f} s"),
    ]  # fmt: skip


def _open_note(samples: Samples) -> str:
    note = f"{len(samples.ms):,} pairs answered in {samples.wall:.0f} s"
    if samples.dropped:
        note += f", {samples.dropped:,} never started (the system fell behind)"
    if samples.failures:
        note += f", {len(samples.failures):,} failed (e.g. {samples.failures[0][:120]})"
    return f"{note}; p50 {samples.quantile(0.5):.0f} ms, p95 {samples.quantile(0.95):.0f} ms"


def _lags(system: System, submitter: str, prescriber: str) -> list[float]:
    """Seconds from a one-record file's 201 at the gateway (the submission committed) until
    a search finds its new patient."""
    groups = demo_records(system.folder / "lag", seed=5, patients=20)
    lags = []
    with requests.Session() as session:
        for n in range(LAG_FILES):
            group = groups[n]
            name = f"Lag{uuid.uuid4().hex[:8]}"
            patient = {**group.patient, "last_name": name}
            path = system.folder / f"lag-{n}.dat"
            with path.open("wb") as file, AsapWriter(file, "LAG", datetime.now(UTC)) as writer:
                writer.open_pharmacy(group.pharmacy)
                writer.add_dispensation(patient, {**group.dispensation,
                                                  "prescription_number": f"L{n:09d}"},
                                        group.prescriber)  # fmt: skip
                writer.close_pharmacy()
            sent = session.post(f"{system.url}/api/submissions",
                                headers={"Authorization": f"Bearer {submitter}"},
                                files={"file": (path.name, path.read_bytes())},
                                timeout=60)  # fmt: skip
            if sent.status_code != 201 or sent.json()["status"] != "accepted":
                raise RuntimeError(f"a lag file was not accepted: {sent.status_code} {sent.text}")
            accepted = time.perf_counter()
            session.headers["Authorization"] = f"Bearer {prescriber}"
            person = Person(patient["first_name"], name, patient["birth_date"].isoformat())
            while not search(session, system.url, person)["persons"]:
                if time.perf_counter() - accepted > 60:
                    raise RuntimeError("a submission's records never reached the query service")
                time.sleep(0.01)
            lags.append(time.perf_counter() - accepted)
            del session.headers["Authorization"]
            time.sleep(OPEN_SECONDS / LAG_FILES / 2)  # spread over the open-loop run
    return lags
