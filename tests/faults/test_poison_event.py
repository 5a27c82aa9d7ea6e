"""Experiment 8 of issue 23 on a whole stack: a poison event (two fills on 9999-12-31, in
the submissions store as an older intake could have let through) among good files. The
alerts watch sets it aside and applies the next file; every other projection applies it;
``pmp check`` does not pass over it: it names the set-aside event and exactly the two
dispensations the watch lacks, and nothing else.

Every projection and reaction the services run, each with a poison of its own, is the
contract suite's (tests/contract/test_set_aside.py, enumerated from the kernels, both
backends); this is the same promise through the relay, the RPC reads and a real stack.
"""

from __future__ import annotations

import re

from pmp.config import load_settings
from pmp.db import open_database
from pmp.eventstore import EventStore
from services.submissions.schemas import submissions_events
from tests.faults.converge import check, converge
from tests.faults.workload import LAST_NAMES, asap_file, ingest
from tests.helpers.processes import wait_until
from tests.integration.test_set_aside import far_future_dispensations

RECORDS = 200


def test_a_poison_event_is_set_aside_the_next_applied_and_the_check_names_it(fault_stack, tmp_path):
    ingest(fault_stack, asap_file(tmp_path / "before.dat", 0, RECORDS))
    converge(fault_stack, 120)
    poison = far_future_dispensations(fault_stack, LAST_NAMES[0])
    ingest(fault_stack, asap_file(tmp_path / "after.dat", RECORDS, RECORDS))
    poisoned = _ids_of(fault_stack, poison)

    def only_the_poison_is_missing() -> str | None:
        done = check(fault_stack)
        problems = [line for line in done.stdout.splitlines() if line.startswith("PROBLEM")]
        missing = re.findall(r"PROBLEM alerts\.watch: 2 missing[^:]*: (\S+), (\S+)$",
                             "\n".join(problems), re.M)  # fmt: skip
        expected = [
            "PROBLEM set aside (not dismissed): alerts.watch: 1 events set aside",
            *[p for p in problems if p.startswith("PROBLEM alerts.watch: 2 missing")],
        ]
        if sorted(problems) == sorted(expected) and missing and set(missing[0]) == poisoned:
            return done.stdout
        return None

    report = wait_until(only_the_poison_is_missing, 180, "pmp check names only the poison",
                        every=1.0)  # fmt: skip
    print(report)


def _ids_of(stack, event_id) -> set[str]:
    db = open_database(load_settings(stack.direct_env), "submissions", pool_size=1)
    try:
        store = EventStore(db, submissions_events())
        event = next(e for e in store.read_all(0, 1000) if e.event_id == event_id)
    finally:
        db.dispose()
    return {r["dispensation_id"] for r in event.data["records"]}
