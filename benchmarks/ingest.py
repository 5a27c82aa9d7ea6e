"""(e) Ingest throughput: an ASAP file of N records, from file to events committed, through
``pmp ingest`` in its own process (SQLite, embedded mode), with its peak memory.

The file repeats the dispensation groups of the demo data (``pmp demo-data``: realistic
patients, prescribers, pharmacies and NDCs) under fresh prescription numbers, so every record
is new and every patient is linked. Goal from the issue: 20,000 records/s on this 2-core
machine; peak memory under 500 MB for 1,000,000 records.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import Result
from services.submissions.asap import Record, read_records
from services.submissions.asap_writer import AsapWriter
from services.submissions.demo import write_demo_files

RECORDS = 1_000_000


def demo_groups(folder: Path) -> list[Record]:
    groups: list[Record] = []
    for path in write_demo_files(folder / "demo", seed=7, patients=2000, months=6):
        with path.open("rb") as file:
            groups += [item for item in read_records(file) if isinstance(item, Record)]
    return groups


def write_file(path: Path, records: int, groups: list[Record]) -> None:
    with path.open("wb") as file, AsapWriter(file, "BENCH1", datetime.now(UTC)) as writer:
        writer.open_pharmacy(groups[0].pharmacy)
        for n in range(records):
            group = groups[n % len(groups)]
            dispensation = {**group.dispensation, "prescription_number": f"B{n:09d}"}
            writer.add_dispensation(group.patient, dispensation, group.prescriber)
        writer.close_pharmacy()


def run(records: int = RECORDS) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        big = folder / "bench.dat"
        write_file(big, records, demo_groups(folder))
        size_mb = big.stat().st_size / 1e6
        env = {"PMP_DATA_DIR": str(folder / "var"), "PATH": "/usr/bin:/bin"}
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pmp", "ingest", str(big)],
            capture_output=True,
            text=True,
            env=env,
            cwd=Path(__file__).resolve().parents[1],
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"pmp ingest failed: {done.stderr[-2000:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    note = (
        f"{records:,} records, {size_mb:,.0f} MB file, {elapsed:,.1f} s; "
        f"peak memory {peak_mb:,.0f} MB (goal < 500 MB: {'met' if peak_mb < 500 else 'NOT met'})"
    )
    common = {"benchmark": "e", "peer": 0.0, "peer_name": "none", "goal_ratio": 0.0}
    return [
        Result(case="ingest, file to events committed", unit="records/s",
               ours=records / elapsed, goal=20_000, note=note, **common),
        Result(case="ingest peak memory", unit="MB", ours=peak_mb, note="lower is better",
               **common),
    ]  # fmt: skip
