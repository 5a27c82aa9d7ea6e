"""A relay, projector or reaction loop outlives a database it cannot reach (issue 23, item 4).

nameko stops a whole service when one of its managed threads raises; the loop used to call
``engine.connect()`` for the leader lock outside its ``try``, so a database outage killed
every service. Here the database is a PostgreSQL URL on a port nobody listens on.
"""

from __future__ import annotations

import socket
import threading

import sqlalchemy as sa

from pmp.db import Database
from pmp.leader import MAX_OUTAGE_PAUSE, Trouble, repeat_while_leading
from pmp.locks import AdvisoryLocks


def _unreachable_postgresql() -> Database:
    with socket.socket() as probe:  # a port that was free a moment ago: refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
    engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
    return Database(engine, schema="nowhere", locks=AdvisoryLocks(engine))


class CountingStop(threading.Event):
    """A stop signal that records each pause asked of it and is set after ``tries`` pauses."""

    def __init__(self, tries: int):
        super().__init__()
        self.tries = tries
        self.pauses: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.pauses.append(timeout or 0.0)
        if len(self.pauses) >= self.tries:
            self.set()
        return self.is_set()


class AlwaysAwake(threading.Event):
    """Wake-ups arriving all the time, as from a busy service's appends."""

    def wait(self, timeout: float | None = None) -> bool:
        return True


def test_the_loop_waits_out_a_database_it_cannot_reach_instead_of_raising():
    db = _unreachable_postgresql()
    stop, worked = CountingStop(tries=6), []
    trouble = Trouble()

    repeat_while_leading(
        db, "relay", lambda: worked.append(1), stop, AlwaysAwake(), 1.0, on_outcome=trouble
    )

    assert worked == []  # never led: the lock lives in the database
    assert trouble.error is not None and "OperationalError" in trouble.error
    assert trouble.since is not None


def test_wake_ups_do_not_cut_the_pause_after_a_failure_short():
    db = _unreachable_postgresql()
    stop = CountingStop(tries=6)

    repeat_while_leading(db, "projector:x", lambda: None, stop, AlwaysAwake(), 1.0)

    # A growing pause, up to the outage limit, each waited on the stop signal (which
    # wake-ups do not set): not one retry per wake-up.
    assert stop.pauses == [1.0, 2.0, 4.0, MAX_OUTAGE_PAUSE, MAX_OUTAGE_PAUSE, MAX_OUTAGE_PAUSE]


def test_a_failing_work_is_reported_until_it_succeeds(sqlite_db):
    outcomes = iter([RuntimeError("boom"), None])
    trouble = Trouble()
    stop = CountingStop(tries=2)

    def work() -> None:
        error = next(outcomes)
        if error is not None:
            raise error
        stop.set()  # the second try succeeds: that is all this test needs

    seen: list[str | None] = []
    repeat_while_leading(
        sqlite_db,
        "reaction:x",
        work,
        stop,
        AlwaysAwake(),
        1.0,
        on_outcome=lambda e: (trouble(e), seen.append(trouble.error)),
    )

    assert seen[0] is not None and "RuntimeError: boom" in seen[0]
    assert seen[1] is None and trouble.since is None
