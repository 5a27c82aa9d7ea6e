"""The submissions store as a test reads it: which dispensations are stored, how often, and
each submission's outcome events (the intake's recovery tests and fault experiments)."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa

from pmp.config import load_settings
from pmp.db import open_database
from pmp.eventstore import events
from tests.helpers.processes import Process, children_of, python, wait_until

OUTCOMES = {"SubmissionAccepted", "SubmissionTested", "SubmissionRejected", "SubmissionInterrupted"}


class SubmissionsStore:
    """Read-only looks at the submissions service's database under ``env``."""

    def __init__(self, env: Mapping[str, str]):
        self.db = open_database(load_settings(env), "submissions", pool_size=1)

    def _rows(self, *types: str) -> list:
        """Events of these types, each stream's in its order (PostgreSQL returns rows in no
        order of its own without one: an outcome could come before the one it followed)."""
        query = sa.select(events.c.stream, events.c.type, events.c.data)
        query = query.where(events.c.type.in_(types)).order_by(events.c.stream, events.c.version)
        with self.db.read() as conn:
            return conn.execute(query).all()

    def recorded(self) -> Counter:
        """How often each prescription number is stored as a new dispensation."""
        return Counter(
            r["dispensation"]["prescription_number"]
            for _, _, data in self._rows("DispensationsRecorded")
            for r in data["records"]
        )

    def batches(self) -> int:
        """Batches of new dispensations stored: a cheap look while an intake runs (reading
        the records themselves, a megabyte a batch, is slower than the intake on a busy
        machine); 0 before the store's tables exist."""
        if not sa.inspect(self.db.engine).has_table("events", schema=self.db.schema):
            return 0
        query = sa.select(sa.func.count()).where(events.c.type == "DispensationsRecorded")
        with self.db.read() as conn:
            return conn.scalar(query)

    def stored(self) -> int:
        """Records stored as new dispensations; 0 before the store's tables exist."""
        if not sa.inspect(self.db.engine).has_table("events", schema=self.db.schema):
            return 0
        return sum(self.recorded().values())

    def doubled(self) -> int:
        """Prescriptions stored more than once."""
        return sum(1 for n in self.recorded().values() if n > 1)

    def outcomes(self) -> dict[str, list[str]]:
        """Each submission's stream and its outcome events, in order."""
        found: dict[str, list[str]] = {}
        for stream, kind, _ in self._rows("SubmissionReceived", *OUTCOMES):
            found.setdefault(stream, [])
            if kind in OUTCOMES:
                found[stream].append(kind)
        return found

    def summary(self) -> dict:
        """Records stored, distinct prescriptions, doubled ones, keys, outcomes: as JSON."""
        recorded = self.recorded()
        with self.db.read() as conn:
            keys = conn.exec_driver_sql("SELECT count(*) FROM dispensation_keys").scalar()
        return {
            "stored": sum(recorded.values()),
            "distinct": len(recorded),
            "doubled": self.doubled(),
            "keys": keys,
            "outcomes": list(self.outcomes().values()),
        }

    def close(self) -> None:
        self.db.dispose()


def kill_ingest_mid_file(
    env: Mapping[str, str], path: Path, store: SubmissionsStore, logs: Path
) -> int:
    """Start ``pmp ingest path``; once its first records are stored, freeze its reading
    process (so the kill lands mid-file however fast the machine is) and kill -9 both, as a
    crash would. Returns how many records were stored (in all: earlier files' too)."""
    before = store.batches()  # a shared stack holds earlier tests' records
    ingest = Process("ingest", python("-m", "pmp", "ingest", str(path)), dict(env), logs)
    try:
        wait_until(
            lambda: store.batches() > before,
            300,
            "the first records stored",
            watch=[ingest],
        )
        readers = children_of(ingest.pid)
        for pid in readers:
            os.kill(pid, signal.SIGSTOP)
        ingest.kill()
        for pid in readers:
            os.kill(pid, signal.SIGKILL)
    finally:
        ingest.stop()
    return store.stored()


if __name__ == "__main__":  # a look from inside another mount namespace (tests/faults)
    import json
    import sys

    store = SubmissionsStore({"PMP_DATA_DIR": sys.argv[1]})
    print(json.dumps(store.summary()))
    store.close()
