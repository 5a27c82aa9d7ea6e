"""(f) Search and report through the gateway with N dispensations loaded, at 50 concurrent
clients; and the projection lag from an accepted submission to its records in a report.

The whole system runs as ``make run`` runs it (``pmp up``, embedded SQLite stores). The file
repeats the demo data's dispensations with each repetition's patients born on other dates, so
1,000,000 records hold about 100,000 persons with ten or so dispensations each, filled over
the six months before this one. Each client, in a closed loop: search a random person of the
population by name and date of birth as a prescriber, then fetch the report of the first
person found (JSON, or the PDF in the second case); the time of both requests together is
one sample. Goals from the issue: JSON p99 <= 100 ms, PDF p99 <= 300 ms, lag p99 <= 1 s.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import requests

from benchmarks.common import AMQP_URI, Result
from services.submissions.asap import Record, read_records
from services.submissions.asap_writer import AsapWriter
from services.submissions.demo import recent_start, write_demo_files

RECORDS = 1_000_000
CLIENTS = 50
ROOT = Path(__file__).resolve().parents[1]
SHIFT = 397  # days: a year, a month and a day, so no repetition is a one-digit DOB typo
EARLIEST, LATEST = date(1925, 1, 1), date(2005, 1, 1)  # repetitions' birth dates wrap here


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    birth_date: str


def population(folder: Path, path: Path, records: int) -> list[Person]:
    """Writes the bench file; the persons in it."""
    groups: list[Record] = []
    start = recent_start(6, date.today())
    for demo in write_demo_files(folder / "demo", seed=11, patients=2000, months=6, start=start):
        with demo.open("rb") as file:
            groups += [
                item for item in read_records(file, datetime.now(UTC)) if isinstance(item, Record)
            ]
    persons: set[Person] = set()
    with path.open("wb") as file, AsapWriter(file, "BENCHF", datetime.now(UTC)) as writer:
        writer.open_pharmacy(groups[0].pharmacy)
        for n in range(records):
            group = groups[n % len(groups)]
            patient = dict(group.patient)
            patient["birth_date"] = _born(patient["birth_date"], n // len(groups))
            dispensation = {**group.dispensation, "prescription_number": f"F{n:09d}"}
            writer.add_dispensation(patient, dispensation, group.prescriber)
            persons.add(Person(patient["first_name"], patient["last_name"],
                               patient["birth_date"].isoformat()))  # fmt: skip
        writer.close_pharmacy()
    return sorted(persons, key=lambda p: (p.last_name, p.first_name, p.birth_date))


def _born(birth_date: date, repetition: int) -> date:
    """The birth date of a repetition's patient: another date, always in the past."""
    span = (LATEST - EARLIEST).days
    return EARLIEST + timedelta(days=((birth_date - EARLIEST).days + SHIFT * repetition) % span)


class System:
    """``pmp up`` on a data folder of its own, and the signed-in prescriber who searches."""

    def __init__(self, folder: Path):
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.data = folder / "var"
        self.env = {
            **os.environ,
            "PMP_DATA_DIR": str(self.data),
            "PMP_AMQP_URI": AMQP_URI,
            "PMP_DATABASE_URL": "",
            "PMP_GATEWAY_ADDRESS": f"127.0.0.1:{port}",
            "PMP_PUBLIC_URL": self.url,
            "PMP_SECRET_KEY": "bench-secret-key",
            "PMP_LOG_LEVEL": "WARNING",
            "PMP_ARGON2": "t=1,m=1024,p=1",
            "PMP_LOGIN_RATE_LIMIT": "100000/60",
        }
        self.log = (folder / "pmp-up.log").open("wb")
        self.up = subprocess.Popen([sys.executable, "-m", "pmp", "up"], env=self.env,
                                   stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)  # fmt: skip
        self._wait(lambda: "CPMRS is running at" in (folder / "pmp-up.log").read_text(), 120)

    def ingest(self, path: Path) -> None:
        done = subprocess.run([sys.executable, "-m", "pmp", "ingest", str(path)], env=self.env,
                              cwd=ROOT, capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"pmp ingest failed: {done.stderr[-2000:]}")

    def projected(self) -> int:
        """Dispensations in the query service's read model."""
        with sqlite3.connect(f"file:{self.data / 'query.sqlite'}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM dispensations").fetchone()[0]

    def sign_in(self, folder: Path, role: str) -> str:
        """A bearer token of a ready user of ``role`` (made the way an operator makes one)."""
        from tests.helpers.accounts import create_first_administrator, create_user, ready
        from tests.helpers.stack import Stack

        stack = Stack(self.url, self.env, None, None)  # type: ignore[arg-type]
        admin = ready(stack, create_first_administrator(stack, folder))
        return ready(stack, create_user(stack, admin, role, folder)).token

    def stop(self) -> None:
        self.up.send_signal(signal.SIGINT)
        try:
            self.up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.up.kill()
        self.log.close()

    @staticmethod
    def _wait(condition, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError("pmp up did not start; see pmp-up.log")
            time.sleep(0.2)


def search(session: requests.Session, url: str, person: Person) -> dict:
    body = {
        "criteria": {"first_name": person.first_name, "last_name": person.last_name,
                     "birth_date": person.birth_date},
        "purpose": {"kind": "treating", "attested": True},
    }  # fmt: skip
    response = session.post(f"{url}/api/searches", json=body, timeout=60)
    response.raise_for_status()
    return response.json()


def search_and_report(session: requests.Session, url: str, person: Person, pdf: bool) -> None:
    found = search(session, url, person)
    if not found["persons"]:
        raise RuntimeError("a person of the population was not found")
    path = "report.pdf" if pdf else "report"
    params = {"person": found["persons"][0]["person_id"], "months": 12}
    response = session.get(f"{url}/api/searches/{found['search_id']}/{path}", params=params,
                           timeout=60)  # fmt: skip
    response.raise_for_status()


def load(url: str, token: str, persons: list[Person], pdf: bool, seconds: float) -> list[float]:
    """Latencies (ms) of search plus report from ``CLIENTS`` closed-loop clients."""
    samples: list[float] = []
    failures: list[str] = []
    stop = time.monotonic() + seconds

    def client(seed: int) -> None:
        pick = random.Random(seed)
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    search_and_report(session, url, pick.choice(persons), pdf)
                except Exception as exc:  # counted: a failed request fails the run
                    failures.append(repr(exc))
                    continue
                samples.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return samples


def projection_lag(system: System, folder: Path, token: str, files: int = 20) -> list[float]:
    """Seconds from ``pmp ingest`` returning (the submission accepted and committed) until a
    search finds the new patient with the record and the report lists it."""
    groups = []
    start = recent_start(6, date.today())
    for demo in write_demo_files(folder / "lag", seed=5, patients=20, months=6, start=start):
        with demo.open("rb") as file:
            groups += [
                item for item in read_records(file, datetime.now(UTC)) if isinstance(item, Record)
            ]
    lags = []
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        for n in range(files):
            group = groups[n]
            name = f"Lag{uuid.uuid4().hex[:8]}"
            patient = {**group.patient, "last_name": name}
            path = folder / f"lag-{n}.dat"
            with path.open("wb") as file, AsapWriter(file, "LAG", datetime.now(UTC)) as writer:
                writer.open_pharmacy(group.pharmacy)
                writer.add_dispensation(patient, {**group.dispensation,
                                                  "prescription_number": f"L{n:09d}"},
                                        group.prescriber)  # fmt: skip
                writer.close_pharmacy()
            person = Person(patient["first_name"], name, patient["birth_date"].isoformat())
            system.ingest(path)
            accepted = time.perf_counter()
            while not search(session, system.url, person)["persons"]:
                if time.perf_counter() - accepted > 60:
                    raise RuntimeError("a submission's records never reached the query service")
                time.sleep(0.01)
            lags.append(time.perf_counter() - accepted)
    return lags


def run(records: int = RECORDS, seconds: float = 20.0) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        folder = Path(tmp)
        bench_file = folder / "population.dat"
        persons = population(folder, bench_file, records)
        system = System(folder)
        try:
            began = time.perf_counter()
            system.ingest(bench_file)
            while system.projected() < records:
                time.sleep(0.5)
            loaded = time.perf_counter() - began
            token = system.sign_in(folder, "prescriber")
            load(system.url, token, persons, pdf=False, seconds=3)  # warm caches and pools
            json_ms = load(system.url, token, persons, pdf=False, seconds=seconds)
            pdf_ms = load(system.url, token, persons, pdf=True, seconds=seconds)
            lags = projection_lag(system, folder, token)
        finally:
            system.stop()
    loaded_note = (
        f"{records:,} dispensations of {len(persons):,} persons loaded and projected in "
        f"{loaded:,.0f} s; {CLIENTS} closed-loop clients, {seconds:.0f} s"
    )
    return [
        *_percentiles("search + report JSON", json_ms, 100, loaded_note, seconds),
        *_percentiles("search + report PDF", pdf_ms, 300, loaded_note, seconds),
        Result(benchmark="f", case="projection lag, accepted submission to search, p99",
               unit="s", ours=_quantile(lags, 0.99), peer=0.0, peer_name="none",
               goal_ratio=0.0, goal=1.0, lower_is_better=True,
               note=f"{len(lags)} submissions of one record; max {max(lags):.2f} s, "
               f"median {statistics.median(lags):.2f} s"),
    ]  # fmt: skip


def _percentiles(
    case: str, samples: list[float], goal_ms: float, note: str, seconds: float
) -> list[Result]:
    """p50, p95 and p99 rows; the goal is on p99."""
    common = {"benchmark": "f", "unit": "ms", "peer": 0.0, "peer_name": "none",
              "goal_ratio": 0.0, "lower_is_better": True}  # fmt: skip
    note = f"{note}; {len(samples):,} samples ({len(samples) / seconds:,.0f}/s)"
    return [
        Result(case=f"{case}, {label}", ours=_quantile(samples, q), note=note,
               goal=goal_ms if label == "p99" else 0.0, **common)
        for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
    ]  # fmt: skip


def _quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
