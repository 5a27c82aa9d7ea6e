"""The alerts service's watch for benchmark (e): in a process of its own, evaluating what
``pmp ingest`` commits (``python -m benchmarks.alerts_watch SUBMISSIONS ALERTS RECORDS
SECONDS``); and catching up on a realistic population (``capacity``).

It reads the submissions store directly (the service reads it through ``read_events``; this
measures the evaluation, not the transport) and prints one JSON line when it has evaluated
``RECORDS`` records, or when ``SECONDS`` have passed: how many, the wall-clock time and its
peak memory.
"""

from __future__ import annotations

import json
import random
import resource
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from pmp.db import open_sqlite
from pmp.envelope import Metadata, NewEvent
from pmp.eventstore import EventStore, events
from pmp.logs import configure_logging
from pmp.projector import Projector
from pmp.sources import StoreSource
from services.alerts.schemas import alerts_events
from services.alerts.watch import AlertWatch, medications
from services.submissions.schemas import submissions_events


def main(submissions: Path, alerts: Path, records: int, seconds: float) -> None:
    configure_logging("alerts", "WARNING")
    source = EventStore(open_sqlite(submissions), submissions_events())
    own = EventStore(open_sqlite(alerts), alerts_events())
    own.create_tables()
    projector = Projector(
        own.db,
        AlertWatch(),
        {"submissions": StoreSource(source), "alerts": StoreSource(own, AlertWatch.own_streams)},
    )
    projector.create_tables()
    deadline = time.monotonic() + seconds
    evaluated = 0
    while evaluated < records and time.monotonic() < deadline:
        if not projector.project_once():
            with own.db.read() as conn:
                evaluated = conn.scalar(sa.select(sa.func.count()).select_from(medications))
            time.sleep(0.02)
    with own.db.read() as conn:
        evaluated = conn.scalar(sa.select(sa.func.count()).select_from(medications))
        raised = conn.scalar(sa.select(sa.func.count()).select_from(events))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: in KB
    print(json.dumps({"evaluated": evaluated, "finished": time.time(), "alert_events": raised,
                      "peak_mb": peak_mb}))  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))


def capacity(folder: Path, persons: int, records: int) -> tuple[float, int]:
    """Records/s the watch evaluates catching up on ``records`` dispensations of ``persons``
    persons already committed (a realistic history: about ten fills per person over six
    months, opioids, benzodiazepines and zolpidem from nine prescribers and pharmacies),
    and the alert events it appended."""
    source = EventStore(open_sqlite(folder / "submissions.sqlite"), submissions_events())
    source.create_tables()
    pick = random.Random(3)
    people = [str(uuid.uuid4()) for _ in range(persons)]
    for start in range(0, records, 1000):
        batch = [_record(pick, people[pick.randrange(persons)]) for _ in range(1000)]
        data = {"submission_id": str(uuid.uuid4()), "records": batch[: records - start]}
        source.append(f"bench-{start}", 0, [NewEvent("DispensationsRecorded", data, _META)])
    own = EventStore(open_sqlite(folder / "alerts.sqlite"), alerts_events())
    own.create_tables()
    projector = Projector(
        own.db,
        AlertWatch(),
        {"submissions": StoreSource(source), "alerts": StoreSource(own, AlertWatch.own_streams)},
    )
    projector.create_tables()
    began = time.perf_counter()
    projector.catch_up()
    took = time.perf_counter() - began
    with own.db.read() as conn:
        raised = conn.scalar(sa.select(sa.func.count()).select_from(events))
    return records / took, raised


_META = Metadata(occurred_at=datetime(2026, 11, 1, tzinfo=UTC))
_DRUGS = [
    {"drug": "Oxycodone SA", "drug_class": "opioid", "name": "OXYCODONE HCL",
     "strength_per_unit": "10", "unit": "MG", "mme_factor": "1.5", "form": "Tablet"},
    {"drug": "Hydrocodone", "drug_class": "opioid", "name": "HYDROCODONE BITARTRATE",
     "strength_per_unit": "5", "unit": "MG", "mme_factor": "1", "form": "Tablet"},
    {"drug": "Alprazolam", "drug_class": "benzodiazepine", "name": "ALPRAZOLAM",
     "strength_per_unit": "1", "unit": "MG", "mme_factor": None, "form": "Tablet"},
    {"drug": "Zolpidem", "drug_class": "sleep_drug", "name": "ZOLPIDEM TARTRATE",
     "strength_per_unit": "10", "unit": "MG", "mme_factor": None, "form": "Tablet"},
]  # fmt: skip


def _record(pick: random.Random, person: str) -> dict:
    """Most people take one drug from one prescriber and one pharmacy of their own; one in
    five mixes drugs, one in thirty shops around."""
    own = int(person[:8], 16)
    drug = pick.choice(_DRUGS) if own % 5 == 0 else _DRUGS[own % len(_DRUGS)]
    shops = own % 30 == 0
    prescriber = pick.randrange(400) if shops else own % 400
    pharmacy = pick.randrange(300) if shops else (own // 400) % 300
    filled = date(2026, 5, 1) + timedelta(days=pick.randrange(180))
    return {
        "dispensation_id": str(uuid.uuid4()), "person_id": person, "patient_record": 1,
        "dispensation": {"date_filled": filled.isoformat(), "days_supply": 30,
                         "quantity": str(pick.choice([30, 60, 90, 120]))},
        "drug": drug, "prescriber": {"dea": f"AB{prescriber:07d}"},
        "pharmacy": {"ncpdp": f"{pharmacy:07d}"},
    }  # fmt: skip
