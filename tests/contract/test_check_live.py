"""``pmp check`` on a live system: a store that keeps growing while the check looks (every
search is an event of query's store) does not make the audit trail "behind" for ever.

The trail is always a moment behind a busy store. It is held to what each store had at the
check's first look, so the check of a busy system converges once that much is chained, and
still fails when it is not (the fault experiments end with this check while two clients go
on searching: it used to report "behind" by the searches of the last second, 240 s long).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from pmp import diagnostics
from pmp.check import Consistency, Databases
from pmp.config import load_settings
from pmp.db import open_database
from pmp.envelope import Metadata, NewEvent
from pmp.eventstore import EventStore
from pmp.topology import spec_of
from services.audit import trail


@pytest.fixture
def settings(tmp_path):
    return load_settings({"PMP_DATA_DIR": str(tmp_path), "PMP_DATABASE_URL": ""})


def searched(store: EventStore, count: int) -> None:
    """``count`` events in the store, as lookups would add them."""
    for _ in range(count):
        probe = str(uuid.uuid4())
        store.append(
            diagnostics.probe_stream(probe),
            EventStore.ANY,
            [
                NewEvent(
                    diagnostics.PROBE_RECORDED,
                    {"probe_id": probe, "service": "query"},
                    Metadata(occurred_at=datetime.now(UTC)),
                )
            ],
        )


def query_part(check: Consistency):
    return next(p for p in check.look() if p.name == "audit trail: query")


def test_a_store_growing_under_the_check_is_not_behind_once_its_first_head_is_chained(settings):
    with Databases(settings) as databases:
        query_db, audit_db = (open_database(settings, name) for name in ("query", "audit"))
        databases.opened.update(query=query_db, audit=audit_db)
        store = EventStore(query_db, spec_of("query").load().kernel.registry)
        store.create_tables()
        audit_db.create(trail.metadata)
        searched(store, 3)
        with audit_db.write() as conn:
            trail.append(conn, "query", store.read_all(0, 100))

        check = Consistency(databases)
        assert query_part(check).ok

        searched(store, 2)  # searches go on; the trail has not chained them yet
        busy = query_part(check)
        assert busy.ok, busy.problems
        assert "2 newer than the check's first look not chained yet" in busy.note

        late = query_part(Consistency(databases))  # a check begun now
        assert late.problems == ["behind: chained to 3, the store was at 5"]

        with audit_db.write() as conn:
            trail.append(conn, "query", store.read_all(3, 100))
        assert query_part(Consistency(databases)).ok
