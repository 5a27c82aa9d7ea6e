"""Records to put through a stack in the fault experiments: ASAP files of many patients,
loaded with ``pmp ingest`` as an operator loads a backlog."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.faults.stack import FaultStack
from tests.helpers.asap import build, pha, record

REPO = Path(__file__).resolve().parents[2]
PATIENTS = 200  # persons the records are spread over (the alerts watch evaluates each)
LAST_NAMES = ("DOE", "ROE", "POE", "LOWE", "MOE")


def asap_file(path: Path, first: int, count: int) -> Path:
    """``count`` new dispensations, prescriptions RX<1000+first> onwards, over
    ``PATIENTS`` persons; a distinct file for each ``first``."""
    body = []
    for n in range(first, first + count):
        person = n % PATIENTS
        patient = {7: LAST_NAMES[person % len(LAST_NAMES)], 8: f"P{person:04d}",
                   18: f"19{50 + person % 40}0{1 + person % 9}1{person % 9}"}  # fmt: skip
        body += record(n, pat=patient)
    path.write_bytes(build([(pha(), body)]))
    return path


def ingest(stack: FaultStack, path: Path, *, through_proxies: bool = False) -> str:
    """``pmp ingest path`` into the stack's submissions store; its output. Direct to the
    database unless ``through_proxies``."""
    env = stack.env_for_commands() if through_proxies else stack.direct_env_for_commands()
    done = subprocess.run(
        [sys.executable, "-m", "pmp", "ingest", str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=REPO,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"pmp ingest {path.name} exited {done.returncode}\n"
            f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
        )
    return done.stderr + done.stdout
