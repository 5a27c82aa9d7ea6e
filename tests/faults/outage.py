"""Experiments 2, 3 and 7 of issue 23: take the broker or the database away from a whole stack
during an ingest and lookups, give it back, and see that the system heals by itself.

While the dependency is away, the gateway answers lookups with 503 problem+json and a
Retry-After, never 500 and never later than its deadline, and /healthz says 503 without
hanging. Afterwards, with no process restarted by hand (and none restarted by ``pmp up``
either: nothing may crash), ``pmp check`` finds every record once in every store, and
/healthz says 200 again.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import requests

from tests.faults.converge import converge
from tests.faults.proxy import TcpProxy
from tests.faults.sizes import size
from tests.faults.stack import FaultStack
from tests.faults.workload import Loader, asap_file
from tests.helpers.accounts import create_first_administrator, create_user, ready
from tests.helpers.processes import wait_until

OUTAGE_SECONDS = size(8, 30)
# The gateway's deadline per call: shorter than the outage, so users meet it (503) rather
# than waiting the outage out; the full run keeps the default.
RPC_TIMEOUT = size(3, 10)
FILES = size(3, 20)
RECORDS = size(200, 1000)  # per file
CLIENTS = 2
SEARCH = {
    "criteria": {"first_name": "Nobody", "last_name": "Atall", "birth_date": "1970-01-01"},
    "purpose": {"kind": "treating", "attested": True},
}
# The gateway answers within PMP_RPC_TIMEOUT per call and /healthz within PMP_HEALTH_TIMEOUT
# (2 s), each plus the time the gateway takes around the call; a client that waited longer
# saw a hang.
ANSWER_WITHIN = 2 * RPC_TIMEOUT + 5  # a lookup asks identity, then query
HEALTH_WITHIN = 5


class Watch:
    """Lookups and /healthz polls in the background, counted by status and by phase."""

    def __init__(self, stack: FaultStack, headers: dict[str, str]):
        self.stack = stack
        self.headers = headers
        self.phase = "before"
        self.lookups: Counter[str] = Counter()
        self.health: Counter[str] = Counter()
        self.wrong: list[str] = []  # answers that break the promise, with what they were
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._look, daemon=True) for _ in range(CLIENTS)]
        self._threads.append(threading.Thread(target=self._poll_health, daemon=True))

    def __enter__(self) -> Watch:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _look(self) -> None:
        with requests.Session() as session:
            session.headers.update(self.headers)
            while not self._stop.is_set():
                phase = self.phase
                try:
                    answer = session.post(
                        self.stack.url + "/api/searches", json=SEARCH, timeout=ANSWER_WITHIN
                    )
                except requests.RequestException as exc:
                    self._count(self.lookups, phase, type(exc).__name__)
                    self.wrong.append(f"lookup {phase}: {exc}")
                    continue
                self._count(self.lookups, phase, str(answer.status_code))
                if answer.status_code >= 500:
                    self._judge(answer, f"lookup {phase}")
                if answer.status_code != 200:
                    self._stop.wait(0.2)  # as a client honouring Retry-After would, briefly

    def _poll_health(self) -> None:
        while not self._stop.is_set():
            phase = self.phase
            try:
                status = requests.get(self.stack.url + "/healthz", timeout=HEALTH_WITHIN)
            except requests.RequestException as exc:
                self._count(self.health, phase, type(exc).__name__)
                self.wrong.append(f"/healthz {phase}: {exc}")
                continue
            self._count(self.health, phase, str(status.status_code))
            if phase == "outage" and status.status_code == 200:
                self.wrong.append(f"/healthz said 200 during the outage: {status.text[:500]}")
            self._stop.wait(0.5)

    def _judge(self, answer: requests.Response, what: str) -> None:
        kind = answer.headers.get("Content-Type", "")
        if answer.status_code != 503:
            self.wrong.append(f"{what}: {answer.status_code} {answer.text[:300]}")
        elif "application/problem+json" not in kind or "Retry-After" not in answer.headers:
            self.wrong.append(f"{what}: 503 without problem+json and Retry-After: {kind}")

    @staticmethod
    def _count(counter: Counter[str], phase: str, status: str) -> None:
        counter[f"{phase} {status}"] += 1


def outage_during_ingest_and_lookups(
    stack: FaultStack, proxy: TcpProxy, tmp_path: Path, name: str
) -> None:
    """Cut ``proxy`` for ``OUTAGE_SECONDS`` while ``pmp ingest`` loads files and clients
    look patients up; then everything must converge on its own."""
    admin = ready(stack, create_first_administrator(stack, tmp_path))
    prescriber = ready(stack, create_user(stack, admin, "prescriber", tmp_path))
    files = [asap_file(tmp_path / f"day{n}.dat", n * RECORDS, RECORDS) for n in range(FILES)]
    loader = Loader(stack, files)

    with Watch(stack, prescriber.headers()) as watch:
        wait_until(lambda: watch.lookups["before 200"] >= 5, 120, "lookups answered")
        in_flight = loader.begin() * RECORDS
        watch.phase = "outage"
        proxy.cut()
        time.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for something to happen
        watch.phase = "after"
        proxy.restore()
        restored_at = time.monotonic()
        loader.join(timeout=900)
        seconds = converge(stack, size(240, 900))
        converged_after = time.monotonic() - restored_at
        last: list[str] = []
        try:
            wait_until(lambda: _healthy(stack, last), 120, "/healthz 200 after converging")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nlast /healthz: {last[-1:]}") from None
        healthy_after = time.monotonic() - restored_at
    assert not loader.failures, loader.failures
    assert len(loader.loaded) == FILES
    restarted = [line for line in stack.process.log().splitlines() if "restarting" in line]
    print(
        f"{name}: {FILES * RECORDS} records, {in_flight} still to ingest at the cut, "
        f"0 lost, 0 doubled (pmp check); cut for {OUTAGE_SECONDS} s; pmp check passed "
        f"{converged_after:.1f} s after the restore (the ingest still running) "
        f"(its own wait {seconds:.1f} s); "
        f"/healthz 200 again {healthy_after:.1f} s after the restore; "
        f"lookups {dict(watch.lookups)}; /healthz {dict(watch.health)}; "
        f"services restarted: {len(restarted)}"
    )
    assert not restarted, "a service crashed:\n" + "\n".join(restarted)
    assert not watch.wrong, "\n".join(watch.wrong[:20])
    assert watch.health["outage 503"] > 0, "/healthz was never asked during the outage"


def _healthy(stack: FaultStack, seen: list[str]) -> bool:
    answer = requests.get(stack.url + "/healthz", timeout=HEALTH_WITHIN)
    seen.append(answer.text)
    return answer.status_code == 200
