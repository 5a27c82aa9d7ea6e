"""``pmp up``: every service and the gateway, one process each, supervised.

A service that dies is restarted (with a growing pause if it keeps dying). Ctrl-C or
SIGTERM stops them all: each gets SIGTERM and a grace period to finish its workers, then
SIGKILL. Children run in their own session, so a terminal's Ctrl-C reaches only the
supervisor, and they are told to exit if the supervisor itself is killed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from pmp.broker import BrokerUnreachable, check_broker
from pmp.config import Settings

GRACE_SECONDS = 15
READY_TIMEOUT = 90


class _Stop(Exception):
    """Raised by the SIGTERM handler to unwind into an orderly stop."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)
    next_start: float = 0.0


def _exit_with_parent() -> None:  # runs in the child between fork and exec
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux: children then outlive a SIGKILLed supervisor
        pass


def say(message: str) -> None:
    print(f"pmp up: {message}", file=sys.stderr, flush=True)


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        names: list[str],
        prepare: Callable[[], None] | None = None,
    ):
        self.settings = settings
        self.children = [Child(name) for name in names]
        self.prepare = prepare  # runs once the broker answered, before any child starts

    def start(self, child: Child) -> None:
        child.process = subprocess.Popen(
            [sys.executable, "-m", "pmp", "service", child.name], preexec_fn=_exit_with_parent
        )

    def run(self) -> int:
        try:
            check_broker(self.settings.amqp_uri)
        except BrokerUnreachable as exc:
            say(str(exc))
            return 2
        if self.prepare:
            try:
                self.prepare()
            except KeyboardInterrupt:
                say("stopped")
                return 130
        signal.signal(signal.SIGTERM, self._on_sigterm)
        # A shell starts background jobs with SIGINT ignored; Ctrl-C must still stop us.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        say(f"starting {', '.join(c.name for c in self.children)}")
        for child in self.children:
            self.start(child)
        try:
            self._announce_when_ready()
            while True:
                self._restart_the_dead()
                time.sleep(0.5)
        except (KeyboardInterrupt, _Stop):
            say("stopping (waiting for running requests to finish)")
        finally:
            self.stop_all()
        say("stopped")
        return 0

    def _on_sigterm(self, _signum, _frame) -> None:
        raise _Stop()

    def _announce_when_ready(self) -> None:
        url = self.settings.gateway_url
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            self._restart_the_dead()
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    say(f"CPMRS is running at {url}/  (Ctrl-C stops it)")
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        say(f"not every service is healthy after {READY_TIMEOUT} s; see {url}/status")

    def _restart_the_dead(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.process is None or child.process.poll() is None:
                continue
            if not child.next_start:
                child.restarts = [t for t in child.restarts if now - t < 60] + [now]
                pause = min(30.0, 2.0 ** (len(child.restarts) - 1))
                child.next_start = now + pause
                code = child.process.returncode
                say(f"{child.name} exited with {code}; restarting in {pause:g} s")
            elif now >= child.next_start:
                child.next_start = 0.0
                self.start(child)

    def stop_all(self) -> None:
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
