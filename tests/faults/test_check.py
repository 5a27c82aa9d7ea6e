"""``pmp check``, the operators' consistency check the fault experiments end with: it
passes on a consistent stack, and fails naming the part when a read model is behind (its
service hung) or a dispensation is recorded twice (a batch appended again under new ids,
as a file run twice after its keys were lost)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pmp.config import load_settings
from pmp.db import open_database
from pmp.envelope import Metadata, NewEvent
from pmp.eventstore import EventStore
from services.submissions.intake import submission_stream
from services.submissions.schemas import submissions_events
from tests.faults.converge import check, converge
from tests.faults.processes import paused
from tests.faults.workload import asap_file, ingest


def test_pmp_check_passes_when_consistent_and_names_what_is_behind_or_doubled(
    fault_stack, tmp_path
):
    ingest(fault_stack, asap_file(tmp_path / "first.dat", 0, 300))
    converge(fault_stack, 120)

    with paused(fault_stack, "query"):
        ingest(fault_stack, asap_file(tmp_path / "second.dat", 300, 100))
        behind = check(fault_stack)
    assert behind.returncode == 1, behind.stdout
    assert "PROBLEM query.patient_history: 100 missing" in behind.stdout, behind.stdout
    assert "NOT consistent" in behind.stdout
    converge(fault_stack, 120)

    doubled_id = _record_again_under_a_new_id(fault_stack)
    doubled = check(fault_stack)
    assert doubled.returncode == 1, doubled.stdout
    assert "PROBLEM submissions store: 1 recorded twice: key ncpdp:" in doubled.stdout
    assert doubled_id in doubled.stdout


def _record_again_under_a_new_id(stack) -> str:
    """Append one recorded dispensation again with a new id, straight into the submissions
    store: what a file run a second time did before its chunks were atomic."""
    db = open_database(load_settings(stack.direct_env), "submissions", pool_size=1)
    try:
        store = EventStore(db, submissions_events())
        recorded = next(e for e in store.read_all(0, 50) if e.type == "DispensationsRecorded")
        again = {**recorded.data["records"][0], "dispensation_id": str(uuid.uuid4())}
        submission = str(uuid.uuid4())
        data = {"submission_id": submission, "records": [again]}
        store.append(
            submission_stream(submission),
            EventStore.ANY,
            [NewEvent("DispensationsRecorded", data, Metadata(occurred_at=datetime.now(UTC)))],
        )
    finally:
        db.dispose()
    return again["dispensation_id"]
