"""Process control for the fault suite: kill -9 one service of a running stack.

``pmp up`` runs each service as its own child process (``pmp service NAME``) and restarts
a child that dies, after a pause that grows if it keeps dying (pmp/supervisor.py). So a
kill -9 here is a crash, and the restart is the supervisor's own, as in deployment: the
test only waits for it. ``paused`` stops a service without killing it (SIGSTOP): alive to
the supervisor, deaf to the broker, its projections standing still, until SIGCONT.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

import requests

from tests.helpers.processes import children_of, wait_until
from tests.helpers.stack import Stack

RESTART_TIMEOUT = 90.0


def service_pid(stack: Stack, name: str) -> int:
    """The pid of the running ``pmp service <name>`` that the stack's supervisor started."""
    for pid, cmdline in children_of(stack.process.pid).items():
        if cmdline[-2:] == ["service", name]:
            return pid
    raise LookupError(f"no running {name} under pmp up ({stack.process.pid})")


def kill_service(stack: Stack, name: str) -> int:
    """kill -9 the service ``name``; returns the pid it had."""
    pid = service_pid(stack, name)
    os.kill(pid, signal.SIGKILL)
    return pid


def wait_restarted(stack: Stack, name: str, old_pid: int, timeout: float = RESTART_TIMEOUT) -> int:
    """Wait until the supervisor has started ``name`` again and it answers its ping;
    returns the new pid."""

    def restarted() -> int | None:
        with contextlib.suppress(LookupError):
            pid = service_pid(stack, name)
            if pid != old_pid and _answers(stack, name):
                return pid
        return None

    return wait_until(
        restarted, timeout, f"{name} restarted by pmp up", every=0.2, watch=[stack.process]
    )


def _answers(stack: Stack, name: str) -> bool:
    health = requests.get(f"{stack.url}/healthz", timeout=5).json()
    return health["services"][name]["status"] != "down"


@contextlib.contextmanager
def paused(stack: Stack, name: str) -> Iterator[int]:
    """SIGSTOP ``name`` for the block (a hung process), SIGCONT after; yields its pid."""
    pid = service_pid(stack, name)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)
