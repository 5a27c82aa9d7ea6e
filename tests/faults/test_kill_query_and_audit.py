"""Experiment 4 of issue 23: kill -9 query and audit while events flow. ``pmp up`` starts
them again; their projections resume from their checkpoints; the patient history read
model then equals a rebuild of it, row for row, and the audit trail has no hole
(``pmp check``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from services.query.history import metadata as patient_history
from tests.faults.converge import REPO, converge
from tests.faults.processes import kill_service, wait_restarted
from tests.faults.readmodel import rows
from tests.faults.sizes import size
from tests.faults.workload import Loader, asap_file

# A stack per test and its experiment outlast the suite's default 300 s in make faults.
pytestmark = pytest.mark.timeout(size(600, 3600))

FILES = size(4, 50)
RECORDS = size(250, 1000)  # per file: 1,000 and 50,000 in all


def test_query_and_audit_killed_while_events_flow_converge_to_a_rebuild(fault_stack, tmp_path):
    files = [asap_file(tmp_path / f"week{n}.dat", n * RECORDS, RECORDS) for n in range(FILES)]
    loader = Loader(fault_stack, files)

    # The services reach their broker and database only through the fault suite's proxies.
    assert fault_stack.broker_proxy.connections and fault_stack.database_proxy.connections
    in_flight = loader.begin() * RECORDS  # not yet in the store at the kills
    killed = {name: kill_service(fault_stack, name) for name in ("query", "audit")}
    for name, pid in killed.items():
        wait_restarted(fault_stack, name, pid)
    loader.join(timeout=900)
    assert "query exited with -9; restarting" in fault_stack.process.log()
    assert not loader.failures, loader.failures
    assert len(loader.loaded) == FILES

    seconds = converge(fault_stack, size(180, 900))
    before = rows(fault_stack, "query", patient_history)
    rebuilt = subprocess.run(
        [sys.executable, "-m", "pmp", "projections", "rebuild", "query.patient_history"],
        capture_output=True,
        text=True,
        timeout=900,
        env=fault_stack.direct_env_for_commands(),
        cwd=REPO,
    )
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    after = rows(fault_stack, "query", patient_history)
    assert len(before["dispensations"]) == FILES * RECORDS
    assert before == after
    print(
        f"experiment 4: {FILES * RECORDS} records, {in_flight} not yet ingested at the kills, "
        f"0 lost, 0 doubled; converged {seconds:.1f} s after the last file; the operator's "
        f"pmp ingest saw every file accepted"
    )
