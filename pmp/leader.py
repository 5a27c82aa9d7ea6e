"""Leadership: among replicas of one service, exactly one runs a given relay or projector.

PostgreSQL: a session advisory lock, held on the one connection that holds every advisory
lock of the process (``pmp.locks``); when the leader's process dies that connection closes
and the lock is free for the next replica to take.
SQLite (embedded, one machine): an exclusive ``flock`` on a lock file beside the database,
released by the kernel when the holding process exits.

``repeat_while_leading`` runs in a nameko managed thread, and nameko kills the whole service
when such a thread raises: so nothing may escape its loop. A database or broker outage is
one more failure to log and wait out, and the worker resumes by itself when it ends.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pmp import setaside
from pmp.db import Database, advisory_key
from pmp.locks import AdvisoryLocks
from pmp.logs import get_logger

log = get_logger(__name__)

MAX_PAUSE = 60.0  # seconds between tries of work that keeps failing on its own
MAX_OUTAGE_PAUSE = 8.0  # the same while a dependency is unavailable: resume soon after


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
        """Raises the database's error when it cannot be reached (the caller waits it out
        and reports it: a database outage is not "another replica leads")."""
        self._generation = self._locks().try_lock(self._key)
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


class Trouble:
    """Whether a worker's last try failed, and since when: /healthz says "failing" at once
    rather than waiting for its lag to pass the limit."""

    def __init__(self) -> None:
        self.error: str | None = None
        self.since: datetime | None = None

    def __call__(self, error: Exception | None) -> None:
        if error is None:
            self.error = self.since = None
            return
        self.error = setaside.describe(error)
        if self.since is None:
            self.since = datetime.now(UTC)


def repeat_while_leading(
    db: Database,
    name: str,
    work: Callable[[], None],
    stop: threading.Event,
    wake: threading.Event,
    poll_interval: float,
    on_lead: Callable[[bool], None] | None = None,
    on_outcome: Callable[[Exception | None], None] | None = None,
) -> None:
    """Until ``stop``: whenever this replica leads ``name``, call ``work`` once per poll.

    ``wake`` cuts the wait short. A failure (of ``work``, or of the database while taking
    the lead) is logged and retried after a growing pause that wake-ups cannot cut short
    (each append would otherwise bring a retry at once): up to ``MAX_OUTAGE_PAUSE`` while a
    dependency is unavailable, so work resumes soon after an outage, else up to a minute.
    ``on_lead`` is told at each poll whether this replica leads (for the status operators
    see); ``on_outcome`` after each try, with its error or None.
    """
    leadership = Leadership(db, name)
    failures = 0
    try:
        while not stop.is_set():
            error: Exception | None = None
            try:
                leads = leadership.try_acquire()
                if on_lead:
                    on_lead(leads)
                if leads:
                    work()
            except Exception as exc:
                if stop.is_set():
                    break  # shutting down: a source or client closed under the work
                error = exc
            if on_outcome:
                on_outcome(error)
            if error is None:
                failures = 0
                wake.wait(poll_interval)
            else:
                failures += 1
                log.warning(
                    "work failed; retrying",
                    worker=name,
                    failures=failures,
                    error=setaside.describe(error),
                    exc_info=not setaside.is_transient(error),
                )
                stop.wait(retry_pause(error, failures, poll_interval))
            wake.clear()
    finally:
        leadership.release()


def retry_pause(error: Exception, failures: int, poll_interval: float) -> float:
    """Seconds to wait after the ``failures``-th failure in a row."""
    limit = MAX_OUTAGE_PAUSE if setaside.is_transient(error) else MAX_PAUSE
    return min(limit, poll_interval * 2 ** min(failures - 1, 6))
