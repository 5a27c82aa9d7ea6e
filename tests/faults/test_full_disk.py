"""Experiment 6 of issue 23: the disk under the SQLite data folder fills up in the middle of
a file. The append fails with a clear error (one line from ``pmp ingest``, no traceback),
nothing is half-stored (a chunk's events and keys go together), and once there is space
again the same file sent again finishes it with nothing recorded twice.

The full disk is real: a small tmpfs mounted over the data folder in a mount namespace of
the test's own (``unshare -m``), so nothing outside the test sees it and it vanishes with
the namespace's one process. Commands join it with ``nsenter``; the test reads the store
through ``/proc/<pid>/root``. Space returns by growing the tmpfs (``mount -o remount``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.sizes import size
from tests.faults.workload import REPO, asap_file

RECORDS = size(20_000, 50_000)
SMALL = "12m"  # holds the empty stores and a few chunks, not the whole file


@dataclass
class SmallDisk:
    """A tmpfs over ``data`` seen only inside the namespace of the process ``holder``."""

    data: Path
    holder: subprocess.Popen

    def run(self, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["nsenter", "-t", str(self.holder.pid), "-m", "--", *command],
            capture_output=True, text=True, timeout=600, env=env, cwd=REPO,
        )  # fmt: skip

    def grow(self, to: str) -> None:
        done = self.run("mount", "-o", f"remount,size={to}", str(self.data))
        assert done.returncode == 0, done.stderr

    def store(self) -> dict:
        """The submissions store in the tmpfs (``SubmissionsStore.summary``), looked at from
        inside the namespace: SQLite resolves ``/proc/<pid>/root`` to this side's root."""
        look = self.run(
            sys.executable,
            "-m",
            "tests.helpers.submissions_store",
            str(self.data),
            env={**os.environ, "PYTHONPATH": str(REPO)},  # nsenter starts it outside the clone
        )
        assert look.returncode == 0, look.stderr
        return json.loads(look.stdout)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    if not (shutil.which("unshare") and shutil.which("nsenter")):
        pytest.skip("needs unshare and nsenter (util-linux)")
    data = tmp_path / "data"
    data.mkdir()
    holder = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "--", "sh", "-c",
         f'mount -t tmpfs -o size={SMALL} tmpfs "$0" && echo mounted && exec sleep 3600', data],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None
    if holder.stdout.readline().strip() != "mounted":
        holder.kill()
        pytest.skip(f"cannot mount a tmpfs in a namespace here: {holder.communicate()[1]}")
    try:
        yield SmallDisk(data, holder)
    finally:
        holder.kill()
        holder.wait()


def test_a_full_disk_stops_the_file_cleanly_and_the_resend_finishes_it_once(
    small_disk: SmallDisk, tmp_path: Path
) -> None:
    path = asap_file(tmp_path / "backlog.dat", 0, RECORDS)  # outside the small disk
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PMP_")}
    env = {**clean, "PMP_DATA_DIR": str(small_disk.data), "PMP_DATABASE_URL": ""}

    full = small_disk.run(sys.executable, "-m", "pmp", "ingest", str(path), env=env)
    assert full.returncode == 1, full.stdout + full.stderr
    assert "Traceback" not in full.stderr and "INSERT" not in full.stderr, full.stderr
    (line,) = [line for line in full.stderr.splitlines() if "NOT FINISHED" in line]
    assert "disk is full" in line and "Run pmp ingest on the same file again" in line, line

    store = small_disk.store()
    stored = store["stored"]
    assert 0 < stored < RECORDS and store["doubled"] == 0, store
    assert f"{stored:,} recorded" in line, (line, stored)
    assert store["keys"] == stored, "nothing half-stored: each stored record has its key"

    small_disk.grow("512m")  # space returns
    again = small_disk.run(sys.executable, "-m", "pmp", "ingest", str(path), env=env)
    assert again.returncode == 0, again.stderr
    assert f"continued after {stored:,} records" in again.stderr, again.stderr
    store = small_disk.store()
    assert (store["doubled"], store["distinct"], store["keys"]) == (0, RECORDS, RECORDS), store
    assert store["outcomes"] == [["SubmissionInterrupted", "SubmissionAccepted"]], store
    print(
        f"experiment 6: {RECORDS} records, {RECORDS - stored} not stored when the disk filled "
        f"({stored} stored, each with its key), 0 lost, 0 doubled; pmp ingest said: {line!r}; "
        "after space returned the resend finished the file"
    )
