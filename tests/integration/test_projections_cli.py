"""``pmp projections list|rebuild`` reach every projection every service runs (its kernel's
``projections``), not only those a service's ``projections.py`` lists (issue 23, item 6);
the audit trail stays the one that is never rebuilt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pmp.topology import SERVICES

REPO = Path(__file__).resolve().parents[2]
MAIN_READ_MODELS = (
    "query.patient_history",
    "query.patient_alerts",
    "query.report_statistics",
    "alerts.watch",
    "audit.misuse",
    "submissions.patient_matches",
)


def pmp(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    """``pmp`` on an empty embedded data folder; the broker's address is one nobody
    answers at: listing and refusing must not need a broker (nor reach another stack's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMP_")}
    env |= {"PMP_DATA_DIR": str(data_dir), "PMP_AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"}
    return subprocess.run(
        [sys.executable, "-m", "pmp", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
    )


def test_list_names_every_projection_of_every_service(tmp_path):
    listed = pmp("projections", "list", data_dir=tmp_path)
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    every = {p.name for spec in SERVICES for p in spec.load().kernel.projection_types}
    assert set(MAIN_READ_MODELS) <= every
    assert names == every


def test_rebuild_finds_the_main_read_models(tmp_path):
    unknown = pmp("projections", "rebuild", "query.nothing", data_dir=tmp_path)
    assert unknown.returncode == 2
    for name in MAIN_READ_MODELS:
        assert name in unknown.stderr, unknown.stderr


def test_the_audit_trail_is_never_rebuilt(tmp_path):
    refused = pmp("projections", "rebuild", "audit.trail", data_dir=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "append-only" in refused.stderr and "Traceback" not in refused.stderr
