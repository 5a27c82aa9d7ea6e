"""Real processes for tests: services, relays and projectors run as they do in deployment.

Nothing here sleeps for a fixed time to wait for something: ``wait_until`` polls a condition
against a deadline and fails with a message saying what never happened. Deadlines are
multiplied by ``PMP_TEST_TIMEOUT_SCALE`` (``scaled``): a busy machine gives more time.

Every child gets the test's own broker vhost, database schema and data folder
(``child_env``): a child that fell back on a default would reach another stack on the same
machine (a developer's ``make run`` serves on the default vhost and ``var``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

T = TypeVar("T")

#: How much longer than the usual deadlines a slow or busy machine may take.
TIMEOUT_SCALE = float(os.environ.get("PMP_TEST_TIMEOUT_SCALE", "1") or "1")


def scaled(seconds: float) -> float:
    """A deadline of ``seconds`` on a quiet machine, stretched by PMP_TEST_TIMEOUT_SCALE."""
    return seconds * TIMEOUT_SCALE


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment of a child process: the runner's, less any ``PMP_`` setting of its
    own, plus ``env``, which must name the test's broker vhost, its data folder and, on
    PostgreSQL, its schema prefix. A command that needs no broker is given an unreachable
    one (port 1), never the default."""
    vhost = unquote(urlsplit(env.get("PMP_AMQP_URI", "")).path.lstrip("/"))
    if vhost in ("", "/"):
        raise AssertionError(
            "a child process needs PMP_AMQP_URI into the test's own vhost (the amqp_uri "
            f"fixture or stack.env_for_commands()), not the default one: {sorted(env)}"
        )
    if not env.get("PMP_DATA_DIR"):
        raise AssertionError("a child process needs PMP_DATA_DIR in the test's tmp_path")
    if env.get("PMP_DATABASE_URL") and not env.get("PMP_SCHEMA_PREFIX"):
        raise AssertionError("a child process on PostgreSQL needs the test's PMP_SCHEMA_PREFIX")
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PMP_")}
    return {**inherited, **env}


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
    timeout = scaled(timeout)
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
            env=child_env(env),
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
        return self.popen.wait(timeout=scaled(timeout))

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up, as in a crash."""
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self, grace: float = 15) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=scaled(grace))
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
