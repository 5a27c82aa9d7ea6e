"""Long loops in a service let the service's other green threads run.

A service is one OS thread under eventlet: a projector applying a batch of a hundred events of
a thousand records (SQLite calls and rule evaluation that never wait on a socket) held the
hub for seconds at a time, so the service answered no ``ping`` and /healthz said 503 for as
long as it caught up. Such loops call ``let_others_run`` between their steps.
"""

from __future__ import annotations

import time


def let_others_run() -> None:
    """Yield to eventlet's hub in a service (``time.sleep`` is patched there); elsewhere
    (commands, tests) only a moment's yield of the interpreter lock."""
    time.sleep(0)
