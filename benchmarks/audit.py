"""(g) Audit append throughput on PostgreSQL: the same events chained into the audit trail
(each entry's canonical bytes hashed after the one before, the columns investigators query
by, the append-only triggers) and appended to the Platform's plain event store (validation,
positions), in batches of 500 as the audit projection receives them. Runs alternate, three of
each; the medians are compared. Goal from the issue: at least 80% of the plain store's rate.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from benchmarks.common import DATABASE_URL, Result, drop_schema, scratch_schema, scratch_store
from pmp.db import open_postgresql
from pmp.envelope import Metadata, NewEvent, RecordedEvent
from pmp.eventstore import EventStore
from services.audit import trail

EVENTS = 50_000
BATCH = 500
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def run(repeats: int = 3) -> list[Result]:
    events = [_event(n) for n in range(1, EVENTS + 1)]
    chained, plain = [], []
    for _ in range(repeats):
        plain.append(_plain(events))
        chained.append(_chained(events))
    ours, peer = statistics.median(chained), statistics.median(plain)
    return [
        Result("g", f"audit trail append, {EVENTS:,} events in batches of {BATCH}", "events/s",
               ours, peer, "the plain event store appending the same events", 0.8,
               note=f"PostgreSQL; medians of {repeats} alternating runs; chained "
               + ", ".join(f"{r:,.0f}" for r in chained) + "; plain "
               + ", ".join(f"{r:,.0f}" for r in plain)),
    ]  # fmt: skip


def _event(n: int) -> RecordedEvent:
    """About the size of a search event: who, for what purpose, which name and birth date."""
    return RecordedEvent(
        event_id=uuid.uuid4(), stream=f"search-{n}", version=1, position=n,
        type="NoteWritten", schema_version=1,
        data={"text": f"searched SMITH JOHN 1970-01-{n % 28 + 1:02d} for treatment", "writer": n},
        metadata=Metadata(occurred_at=T0 + timedelta(seconds=n), actor_id=f"account-{n % 50}",
                          actor_role="prescriber", correlation_id=uuid.uuid4().hex),
    )  # fmt: skip


def _chained(events: list[RecordedEvent]) -> float:
    schema = scratch_schema("audit")
    db = open_postgresql(DATABASE_URL, schema, pool_size=2)
    try:
        db.create(trail.metadata)
        began = time.perf_counter()
        for start in range(0, len(events), BATCH):
            with db.write() as conn:
                trail.append(conn, "query", events[start : start + BATCH])
        took = time.perf_counter() - began
        with db.read() as conn:
            if not trail.verify(conn).intact or trail.head(conn).count != len(events):
                raise AssertionError("the benchmark's trail does not verify")
        return len(events) / took
    finally:
        db.dispose()
        drop_schema(schema)


def _plain(events: list[RecordedEvent]) -> float:
    store, schema = scratch_store("auditpeer")
    try:
        began = time.perf_counter()
        for start in range(0, len(events), BATCH):
            batch = events[start : start + BATCH]
            new = [NewEvent(e.type, e.data, e.metadata, e.event_id) for e in batch]
            store.append(f"batch-{start}", EventStore.ANY, new)
        took = time.perf_counter() - began
        if store.head_position() != len(events):
            raise AssertionError("the plain store lost events")
        return len(events) / took
    finally:
        store.db.dispose()
        drop_schema(schema)
