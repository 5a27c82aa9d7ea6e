"""Real processes for tests: services, relays and projectors run as they do in deployment.

Nothing here sleeps for a fixed time to wait for something: ``wait_until`` polls a condition
against a deadline and fails with a message saying what never happened.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    what: str,
    every: float = 0.05,
    watch: Iterable[Process] = (),
) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds.

    If a process in ``watch`` dies meanwhile, fail at once and show the end of its log.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        for process in watch:
            if not process.alive():
                raise AssertionError(
                    f"{process.name} died while waiting: {what}\n{process.log()[-3000:]}"
                )
        try:
            result = condition()
        except Exception as exc:  # the thing polled may not be up yet
            last_error = exc
        else:
            if result:
                return result
        time.sleep(every)
    logs = "".join(f"\n--- end of {p.name}'s log ---\n{p.log()[-3000:]}" for p in watch)
    raise AssertionError(
        f"within {timeout} s: {what}"
        + (f" (last error: {last_error})" if last_error else "")
        + logs
    )


class Process:
    """A child process whose output goes to a log file the test can read."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            args,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout: float = 60) -> int:
        return self.popen.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up, as in a crash."""
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self, grace: float = 15) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def children_of(parent: int) -> dict[int, list[str]]:
    """The live child processes of ``parent``: pid -> command line."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes().decode().split("\0")
        except (OSError, IndexError, ValueError):
            continue  # exited while we looked
        if ppid == parent:
            found[int(stat.parent.name)] = [arg for arg in cmdline if arg]
    return found
