"""Every PostgreSQL advisory lock one process holds, on one connection of its own.

A session advisory lock lasts as long as its connection, so each lock used to keep a pooled
connection checked out for good: one per relay, projector and reaction, 25 of an idle
stack's 48 connections. One session can hold any number of advisory locks, so a process now
holds all of its own on one connection, opened outside the pool and counted in the budget
(PMP_DB_MAX_CONNECTIONS plus this one).

PostgreSQL grants a session a lock it already holds again, so this class refuses, within
the process, a key another holder here already has: two workers of one process exclude
each other as two processes do. When the connection breaks every lock on it is gone; each
holder notices through ``holds`` (by the connection's generation) and stops its work.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


class AdvisoryLocks:
    """One connection that holds the process's session advisory locks."""

    def __init__(self, engine: Engine):
        self._engine = engine  # NullPool, autocommit: the one connection is ours alone
        self._conn: Connection | None = None
        self._held: set[int] = set()
        self._generation = 0  # one more each time the connection is lost
        self._guard = threading.Lock()  # green under eventlet: one statement at a time

    def try_lock(self, key: int) -> int | None:
        """Take ``key`` if nobody holds it; the generation it is held under, else None.

        Raises ``sqlalchemy.exc.DBAPIError`` when the database cannot be reached."""
        with self._guard:
            if key in self._held:
                return None  # another worker of this process holds it
            conn = self._connection()
            try:
                got = conn.scalar(sa.select(sa.func.pg_try_advisory_lock(key)))
            except sa.exc.DBAPIError:
                self._lost()
                raise
            if not got:
                return None
            self._held.add(key)
            return self._generation

    def holds(self, key: int, generation: int) -> bool:
        """Whether ``key``, taken under ``generation``, is still held: its connection
        answers and has not been replaced since."""
        with self._guard:
            if generation != self._generation or key not in self._held:
                return False
            try:
                self._connection().exec_driver_sql("SELECT 1")
            except sa.exc.DBAPIError:
                self._lost()
                return False
            return True

    def unlock(self, key: int, generation: int) -> None:
        """Let ``key`` go (nothing to do if its connection was lost meanwhile)."""
        with self._guard:
            if generation != self._generation or key not in self._held:
                return
            self._held.discard(key)
            try:
                self._connection().scalar(sa.select(sa.func.pg_advisory_unlock(key)))
            except sa.exc.DBAPIError:
                self._lost()

    def close(self) -> None:
        """Close the connection: PostgreSQL ends every lock it held."""
        with self._guard:
            self._lost()

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect()
        return self._conn

    def _lost(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
            finally:
                self._conn = None
        self._held.clear()
        self._generation += 1
