"""``pmp ingest`` killed part-way through a file (issue 23, item 2): the submission it left
gets an outcome, and the same file sent again finishes it with nothing recorded twice.

The kill is real (``kill_ingest_mid_file``). So are the failures ``pmp ingest`` must explain
in one line per file (issue 23, item 7): a database that is not there, a Ctrl-C mid-file.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.faults.workload import asap_file
from tests.helpers.commands import pmp
from tests.helpers.processes import Process, children_of, python, wait_until
from tests.helpers.submissions_store import SubmissionsStore, kill_ingest_mid_file

RECORDS = 12_000  # past two chunks of 5,000: the kill lands after the first
# Frozen once its first 5,000 are stored: far enough from the end that a slow poll on a busy
# machine (the intake racing on meanwhile) still stops it mid-file.
LONG_FILE = 40_000


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request, tmp_path: Path, amqp_uri: str) -> dict[str, str]:
    env = {"PMP_DATA_DIR": str(tmp_path / "data"), "PMP_DATABASE_URL": "", "PMP_AMQP_URI": amqp_uri}
    if request.param == "postgresql":
        env["PMP_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        env["PMP_SCHEMA_PREFIX"] = request.getfixturevalue("schema_prefix")
    return env


def pmp_ingest(env: dict[str, str], *files: Path) -> subprocess.CompletedProcess:
    return pmp("ingest", *map(str, files), env=env, timeout=300)


def test_a_killed_ingest_gets_an_outcome_and_the_resend_finishes_it_once(env, tmp_path):
    path = asap_file(tmp_path / "week.dat", 0, RECORDS)
    other = asap_file(tmp_path / "other.dat", RECORDS, 1)
    store = SubmissionsStore(env)
    try:
        stored = kill_ingest_mid_file(env, path, store, tmp_path)
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
        assert (store.doubled(), len(store.recorded())) == (0, RECORDS + 1), "each stored once"
    finally:
        store.close()


def test_pmp_ingest_with_its_database_stopped_says_so_in_one_line(tmp_path, amqp_uri):
    path = asap_file(tmp_path / "week.dat", 0, 10)
    stopped = {"PMP_DATABASE_URL": "postgresql://cpmrs:secret@127.0.0.1:1/cpmrs",
               "PMP_SCHEMA_PREFIX": "nowhere_", "PMP_AMQP_URI": amqp_uri,
               "PMP_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    done = pmp_ingest(stopped, path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "cannot be used" in lines[0] and "nothing was loaded" in lines[0]
    assert "Traceback" not in done.stderr and "secret" not in done.stderr


def test_pmp_ingest_stopped_by_ctrl_c_says_what_is_stored_and_the_resend_finishes(
    tmp_path, amqp_uri
):
    env = {"PMP_DATA_DIR": str(tmp_path / "data"), "PMP_DATABASE_URL": "", "PMP_AMQP_URI": amqp_uri}
    path = asap_file(tmp_path / "week.dat", 0, LONG_FILE)
    store = SubmissionsStore(env)
    try:
        ingest = Process("ingest", python("-m", "pmp", "ingest", str(path)), env, tmp_path)
        wait_until(lambda: store.batches(), 120, "the first records stored", watch=[ingest])
        job = [ingest.pid, *children_of(ingest.pid)]  # it and its reading process
        for pid in job:
            os.kill(pid, signal.SIGSTOP)  # mid-file, however fast the machine
        assert sum(store.recorded().values()) < LONG_FILE, "the whole file was in before"
        for pid in job:  # Ctrl-C reaches the terminal's whole job
            os.kill(pid, signal.SIGINT)
        for pid in job:
            os.kill(pid, signal.SIGCONT)
        assert ingest.wait(60) == 130
        said = ingest.log()
        assert "Traceback" not in said and "INSERT" not in said
        lines = [line for line in said.splitlines() if "NOT FINISHED" in line]
        assert len(lines) == 1, said
        (line,) = lines
        stored = sum(store.recorded().values())
        assert f"{stored:,} recorded" in line and "submission " in line, said
        assert "Run pmp ingest on the same file again to finish it" in line
        assert list(store.outcomes().values()) == [["SubmissionInterrupted"]]

        again = pmp_ingest(env, path)
        assert again.returncode == 0, again.stderr
        assert f"continued after {stored:,} records" in again.stderr, again.stderr
        assert (store.doubled(), len(store.recorded())) == (0, LONG_FILE)
    finally:
        store.close()
