"""A file's intake that fails part-way stores nothing half, and the same file sent again
finishes it with nothing recorded twice (issue 23, item 2), on SQLite and PostgreSQL.

The failure is the database's own: an engine hook refuses the second chunk's keys insert,
as a full disk or a lost connection would, after the first chunk was stored. Before the fix
the events of a chunk were committed before its keys, so the resend recorded them again.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from pmp.eventstore import events
from services.submissions.cli import BulkLoad
from tests.helpers.asap import build, pha, record

RECORDS = 12_000  # three chunks of the intake's commits (5,000, 5,000, 2,000)


def names(n: int) -> str:
    return "".join(chr(65 + (n // 26**i) % 26) for i in range(3))


def asap_file(folder: Path, count: int = RECORDS) -> Path:
    """``count`` new dispensations of 300 patients."""
    path = folder / "week.dat"
    segments = [s for n in range(count) for s in record(n, pat={7: "DOE" + names(n % 300)})]
    path.write_bytes(build([(pha(), segments)]))
    return path


class DatabaseRefuses:
    """The ``nth`` statement starting with ``sql`` fails, as the database would fail it."""

    def __init__(self, engine: sa.Engine, sql: str, nth: int):
        self.engine, self.sql, self.nth, self.seen = engine, sql, nth, 0
        sa.event.listen(engine, "before_cursor_execute", self)

    def __call__(self, conn, cursor, statement: str, *_args) -> None:
        if statement.startswith(self.sql):
            self.seen += 1
            if self.seen == self.nth:
                raise sa.exc.OperationalError(statement, None, OSError("disk I/O error"))

    def stop(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self)


def stored(load: BulkLoad) -> tuple[Counter, int, set[str]]:
    """Each stored dispensation's prescription number with how often it is stored; the
    number of keys the intake remembers; the submissions received."""
    with load.db.read() as conn:
        rows = conn.execute(sa.select(events.c.type, events.c.data, events.c.stream)).all()
        keys = conn.scalar(sa.text("SELECT count(*) FROM dispensation_keys"))
    recorded = Counter(
        r["dispensation"]["prescription_number"]
        for kind, data, _ in rows
        if kind == "DispensationsRecorded"
        for r in data["records"]
    )
    received = {stream for kind, _, stream in rows if kind == "SubmissionReceived"}
    return recorded, keys, received


def test_a_failed_chunk_stores_nothing_half_and_the_resend_finishes_the_file_once(
    load, tmp_path
) -> None:
    path = asap_file(tmp_path)
    refusing = DatabaseRefuses(load.db.engine, "INSERT INTO dispensation_keys", nth=2)
    with contextlib.suppress(Exception):
        load.ingest(path)
    refusing.stop()

    recorded, keys, received = stored(load)
    assert (sum(recorded.values()), keys) == (5_000, 5_000), "a chunk's events, keys together"
    assert len(received) == 1

    again = load.ingest(path)  # the same file, sent again
    assert again["status"] == "accepted", again
    assert again["error_count"] == 0, "records stored before are not errors"
    assert again["counts"]["records"] == again["counts"]["recorded"] == RECORDS

    recorded, keys, received = stored(load)
    assert len(received) == 1, "the resend continues the same submission"
    twice = sum(1 for n in recorded.values() if n > 1)
    assert (twice, len(recorded), keys) == (0, RECORDS, RECORDS), "each record stored once"

    assert load.ingest(path)["status"] == "duplicate"
