"""CPU seconds the system spends, per process, read from the processes' own counters.

A lookup's cost is summed over every process that serves it: the gateway, each service,
RabbitMQ and, on PostgreSQL, the database server. The load client is not the system and is
left out. A process that exits during a measure (a database backend) is still counted
through its parent's counters of reaped children. What the system spends while idle (relay
polls, health pings) is measured first and subtracted in proportion to the time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Root:
    """A process tree counted as one part or, with ``split``, a part per child."""

    name: str
    find: Callable[[], psutil.Process | None]
    split: Callable[[psutil.Process], str] | None = None  # a child's part name


def _seconds(times) -> float:
    return times.user + times.system


def sample(roots: Iterable[Root]) -> dict[str, float]:
    """CPU seconds so far per part: each root's own, its reaped children's and its live
    descendants'."""
    parts: dict[str, float] = {}
    for root in roots:
        process = root.find()
        if process is None:
            continue
        try:
            with process.oneshot():
                own = process.cpu_times()
            parts[root.name] = parts.get(root.name, 0.0) + _seconds(own)
            reaped = own.children_user + own.children_system
            parts[root.name] += reaped
            for child in process.children(recursive=True):
                try:
                    seconds = _seconds(child.cpu_times())
                    part = root.split(child) if root.split else root.name
                except psutil.Error:
                    continue  # it exited between the listing and the read
                parts[part] = parts.get(part, 0.0) + seconds
        except psutil.Error:
            continue
    return parts


def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {part: after[part] - before.get(part, 0.0) for part in after}


class Meter:
    """CPU per part over a measured stretch, less the idle rate measured beforehand."""

    def __init__(self, roots: list[Root]):
        self.roots = roots
        self.idle_rate: dict[str, float] = {}  # CPU seconds per wall second while idle

    def measure_idle(self, seconds: float) -> None:
        before, started = sample(self.roots), time.monotonic()
        time.sleep(seconds)
        used, wall = spent(before, sample(self.roots)), time.monotonic() - started
        self.idle_rate = {part: max(0.0, cpu / wall) for part, cpu in used.items()}

    def during(self, work: Callable[[], object]) -> tuple[dict[str, float], float]:
        """CPU seconds per part that ``work`` cost beyond idling, and the wall time."""
        before, started = sample(self.roots), time.monotonic()
        work()
        used, wall = spent(before, sample(self.roots)), time.monotonic() - started
        return {
            part: max(0.0, cpu - self.idle_rate.get(part, 0.0) * wall) for part, cpu in used.items()
        }, wall


def named(match: Callable[[psutil.Process], bool]) -> Callable[[], psutil.Process | None]:
    """The oldest running process ``match`` accepts (the server, not one of its workers)."""

    def find() -> psutil.Process | None:
        found = []
        for process in psutil.process_iter(["create_time"]):
            try:
                if match(process):
                    found.append(process)
            except psutil.Error:
                continue
        return min(found, key=lambda p: p.info["create_time"]) if found else None

    return find


def rabbitmq() -> Root:
    return Root("rabbitmq", named(lambda p: p.name() == "beam.smp"))


def postgresql() -> Root:
    return Root("postgresql", named(lambda p: p.name() in ("postgres", "postmaster")))


def pmp_up(pid: int) -> Root:
    """``pmp up`` and its children, a part per service (and the gateway)."""

    return Root("pmp up", lambda: psutil.Process(pid), split=service_of)


def service_of(child: psutil.Process) -> str:
    """The service a child of ``pmp up`` runs (``python -m pmp service NAME``; the gateway's
    NAME is gateway)."""
    words = child.cmdline()
    return words[words.index("service") + 1] if "service" in words else "pmp up"
