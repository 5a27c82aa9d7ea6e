"""``pmp ingest`` killed part-way through a file (issue 23, item 2): the submission it left
gets an outcome, and the same file sent again finishes it with nothing recorded twice.

The kill is real: the reading process of ``pmp ingest`` is frozen once the first chunk of
records is stored (so the kill lands mid-file however fast the machine is), then both
processes get SIGKILL, as a crash or an operator's ``kill -9`` would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from pmp.config import load_settings
from pmp.db import open_database
from pmp.eventstore import events
from tests.contract.test_intake_recovery import names
from tests.helpers.asap import build, pha, record
from tests.helpers.processes import Process, children_of, python, wait_until

RECORDS = 30_000
OUTCOMES = {"SubmissionAccepted", "SubmissionRejected", "SubmissionInterrupted"}


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request, tmp_path: Path) -> dict[str, str]:
    env = {"PMP_DATA_DIR": str(tmp_path / "data"), "PMP_DATABASE_URL": ""}
    if request.param == "postgresql":
        env["PMP_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        env["PMP_SCHEMA_PREFIX"] = request.getfixturevalue("schema_prefix")
    return env


def pmp_ingest(env: dict[str, str], *files: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PMP_")}
    return subprocess.run(
        [sys.executable, "-m", "pmp", "ingest", *map(str, files)],
        capture_output=True, text=True, timeout=300, env={**clean, **env},
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip


class Store:
    """The submissions store as the test reads it: streams, records, their counts."""

    def __init__(self, env: dict[str, str]):
        self.db = open_database(load_settings(env), "submissions", pool_size=1)

    def rows(self) -> list:
        with self.db.read() as conn:
            return conn.execute(sa.select(events.c.stream, events.c.type, events.c.data)).all()

    def recorded(self) -> Counter:
        """How often each prescription number is stored."""
        return Counter(
            r["dispensation"]["prescription_number"]
            for _, kind, data in self.rows()
            if kind == "DispensationsRecorded"
            for r in data["records"]
        )

    def outcomes(self) -> dict[str, list[str]]:
        """Each submission's stream and the outcome events in it, in order."""
        found: dict[str, list[str]] = {}
        for stream, kind, _ in self.rows():
            if stream.startswith("submission-"):
                found.setdefault(stream, [])
                if kind in OUTCOMES:
                    found[stream].append(kind)
        return found


def killed_mid_file(env: dict[str, str], path: Path, store: Store, logs: Path) -> int:
    """Start ``pmp ingest path``, kill it once some records are stored; how many were."""
    ingest = Process("ingest", python("-m", "pmp", "ingest", str(path)), env, logs)
    try:
        wait_until(lambda: store.recorded(), 120, "the first records stored", watch=[ingest])
        readers = children_of(ingest.pid)
        for pid in readers:
            os.kill(pid, signal.SIGSTOP)
        ingest.kill()
        for pid in readers:
            os.kill(pid, signal.SIGKILL)
    finally:
        ingest.stop()
    return sum(store.recorded().values())


def test_a_killed_ingest_gets_an_outcome_and_the_resend_finishes_it_once(env, tmp_path):
    path = tmp_path / "week.dat"
    segments = [s for n in range(RECORDS) for s in record(n, pat={7: "DOE" + names(n % 300)})]
    path.write_bytes(build([(pha(), segments)]))
    other = tmp_path / "other.dat"
    other.write_bytes(build([(pha(), record(RECORDS + 1))]))
    store = Store(env)
    try:
        stored = killed_mid_file(env, path, store, tmp_path)
        assert 0 < stored < RECORDS, "the kill landed mid-file"

        loaded = pmp_ingest(env, other)  # the next intake finds the dead one's submission
        assert loaded.returncode == 0, loaded.stderr
        (killed,) = [
            s
            for s, kinds in store.outcomes().items()
            if not kinds or kinds[0] != "SubmissionAccepted"
        ]
        assert store.outcomes()[killed] == ["SubmissionInterrupted"], (
            "no submission without an outcome"
        )

        again = pmp_ingest(env, path)
        assert again.returncode == 0, again.stderr
        assert "Traceback" not in again.stderr
        assert store.outcomes()[killed] == ["SubmissionInterrupted", "SubmissionAccepted"]
        recorded = store.recorded()
        twice = sum(1 for n in recorded.values() if n > 1)
        assert (twice, len(recorded)) == (0, RECORDS + 1), "each record stored once"
    finally:
        store.db.dispose()
