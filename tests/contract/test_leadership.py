"""Leadership on both backends: one holder at a time, also between workers of one process
(PostgreSQL holds every lock of a process on one connection, ``pmp.locks``)."""

from __future__ import annotations

import sqlalchemy as sa

from pmp.db import open_postgresql
from pmp.leader import Leadership


def test_one_holder_at_a_time_within_one_process(database):
    first, second = Leadership(database, "relay"), Leadership(database, "relay")
    other = Leadership(database, "projector:x")
    assert first.try_acquire()
    assert not second.try_acquire()  # the same process, another worker: refused
    assert other.try_acquire()  # another name is another lock
    assert first.still_held() and first.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()
    other.release()


def test_a_process_holds_all_its_locks_on_one_connection(postgres_url, schema_prefix):
    db = open_postgresql(postgres_url, schema_prefix + "locks")
    held = [Leadership(db, f"projector:{n}") for n in range(5)]
    try:
        assert all(leadership.try_acquire() for leadership in held)
        assert len(_pids(postgres_url, f"{db.schema} locks")) == 1
    finally:
        for leadership in held:
            leadership.release()
        db.dispose()


def test_a_lost_lock_connection_ends_every_leadership_and_another_process_takes_over(
    postgres_url, schema_prefix
):
    ours = open_postgresql(postgres_url, schema_prefix + "locks")
    theirs = open_postgresql(postgres_url, schema_prefix + "locks")
    mine, rival = Leadership(ours, "relay"), Leadership(theirs, "relay")
    try:
        assert mine.try_acquire()
        (pid,) = _pids(postgres_url, f"{ours.schema} locks")  # only ours is open yet
        assert not rival.try_acquire()  # another process (another session) is refused
        _terminate(postgres_url, pid)
        assert not mine.still_held()
        assert rival.try_acquire()
        assert not mine.try_acquire()  # a new connection, but the lock is theirs now
    finally:
        mine.release()
        rival.release()
        ours.dispose()
        theirs.dispose()


def _pids(url: str, application_name: str) -> list[int]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        return list(
            conn.scalars(
                sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                {"name": application_name},
            )
        )


def _terminate(url: str, pid: int) -> None:
    """A holder's lock connection dies, as in a network cut or a server restart."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
