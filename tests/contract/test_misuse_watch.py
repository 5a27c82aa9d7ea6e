"""The misuse watch on SQLite and on PostgreSQL: every kind of signal raised from one
history of searches, each once, and none again after a rebuild."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pmp.db import Database
from tests.unit.test_misuse_watch import JANE, KIN, LOU, PAT, T0, ZONE, World


def test_every_kind_of_signal_once_and_never_twice(database: Database) -> None:
    world = World(database)
    world.dispense(KIN, street="165 Capitol Ave", last="Doe")
    for n in range(20):  # Lou searches at 10:00 in Hartford on twenty days
        day = (T0 - timedelta(days=20 - n)).date()
        at = datetime(day.year, day.month, day.day, 10, tzinfo=ZONE).astimezone(UTC)
        world.search(LOU, persons=(PAT,), at=at)
    world.search(LOU, persons=(), at=T0 + timedelta(hours=6))  # 16:00
    world.search(JANE, persons=(KIN,), last="Dough")  # reported as Doe, at her work address
    for m in range(30):
        world.search(JANE, persons=(PAT,), at=T0 + timedelta(minutes=m + 1))
    kinds = sorted(world.kinds(), key=lambda k: (k[0], k[1]))
    assert kinds == [
        ("address", JANE, KIN),
        ("hour", LOU, None),
        ("repeated", JANE, PAT),
        ("surname", JANE, KIN),
        ("volume", JANE, None),
    ]
    volume = next(s for s in world.signals() if s["kind"] == "volume")
    assert len(volume["search_ids"]) == 30 and uuid.UUID(volume["signal_id"])
    world.projector.reset()
    assert sorted(world.kinds(), key=lambda k: (k[0], k[1])) == kinds
