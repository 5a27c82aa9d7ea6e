"""Leadership: among replicas of one service, exactly one runs a given relay or projector.

PostgreSQL: a session advisory lock, held on the one connection that holds every advisory
lock of the process (``pmp.locks``); when the leader's process dies that connection closes
and the lock is free for the next replica to take.
SQLite (embedded, one machine): an exclusive ``flock`` on a lock file beside the database,
released by the kernel when the holding process exits.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from pmp.db import Database, advisory_key
from pmp.locks import AdvisoryLocks
from pmp.logs import get_logger

log = get_logger(__name__)


class Leadership:
    """Try to become, and then stay, the one active worker called ``name`` for ``db``."""

    def __init__(self, db: Database, name: str):
        self.db = db
        self.name = name
        self._key = advisory_key(f"{db.schema}:leader:{name}")
        self._generation: int | None = None  # of the lock connection it was taken under
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._generation is not None or self._fd is not None

    def try_acquire(self) -> bool:
        """Become leader if nobody is; return whether this replica now leads."""
        if self.held:
            return self.still_held()
        if self.db.is_postgresql:
            return self._try_advisory_lock()
        return self._try_flock()

    def still_held(self) -> bool:
        """False once the lock is lost (its connection broke); the caller must stop work."""
        if self._generation is not None and not self._locks().holds(self._key, self._generation):
            self._generation = None
            return False
        return self.held

    def release(self) -> None:
        if self._generation is not None:
            generation, self._generation = self._generation, None
            self._locks().unlock(self._key, generation)
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def _locks(self) -> AdvisoryLocks:
        assert self.db.locks is not None, "advisory locks are PostgreSQL's"
        return self.db.locks

    def _try_advisory_lock(self) -> bool:
        try:
            self._generation = self._locks().try_lock(self._key)
        except sa.exc.DBAPIError:
            return False
        return self._generation is not None

    def _try_flock(self) -> bool:
        path = Path(f"{self.db.path}.{self.name}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True


def repeat_while_leading(
    db: Database,
    name: str,
    work: Callable[[], None],
    stop: threading.Event,
    wake: threading.Event,
    poll_interval: float,
    on_lead: Callable[[bool], None] | None = None,
) -> None:
    """Until ``stop``: whenever this replica leads ``name``, call ``work`` once per poll.

    ``wake`` cuts the wait short. A failing ``work`` is logged and retried with a growing
    pause (up to a minute), not once per poll forever. ``on_lead`` is told at each poll
    whether this replica leads (for the status operators see).
    """
    leadership = Leadership(db, name)
    failures = 0
    try:
        while not stop.is_set():
            leads = leadership.try_acquire()
            if on_lead:
                on_lead(leads)
            if leads:
                try:
                    work()
                    failures = 0
                except Exception:
                    if stop.is_set():
                        break  # shutting down: a source or client closed under the work
                    failures += 1
                    log.exception("work failed; retrying", worker=name, failures=failures)
            wake.wait(min(60.0, poll_interval * 2 ** min(failures, 6)))
            wake.clear()
    finally:
        leadership.release()
