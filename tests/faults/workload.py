"""Records to put through a stack in the fault experiments: ASAP files of many patients,
loaded with ``pmp ingest`` as an operator loads a backlog."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.faults.sizes import size
from tests.faults.stack import FaultStack
from tests.helpers.asap import build, pha, record
from tests.helpers.commands import pmp_ok
from tests.helpers.processes import wait_until

REPO = Path(__file__).resolve().parents[2]
PATIENTS = 200  # persons the records are spread over (the alerts watch evaluates each)
LAST_NAMES = ("DOE", "ROE", "POE", "LOWE", "MOE")


def asap_file(path: Path, first: int, count: int) -> Path:
    """``count`` new dispensations, prescriptions RX<1000+first> onwards, over
    ``PATIENTS`` persons; a distinct file for each ``first``."""
    body = []
    for n in range(first, first + count):
        person = n % PATIENTS
        patient = {7: LAST_NAMES[person % len(LAST_NAMES)], 8: f"P{person:04d}",
                   18: f"19{50 + person % 40}0{1 + person % 9}1{person % 9}"}  # fmt: skip
        body += record(n, pat=patient)
    path.write_bytes(build([(pha(), body)]))
    return path


def ingest(stack: FaultStack, path: Path, *, through_proxies: bool = False) -> str:
    """``pmp ingest path`` into the stack's submissions store; its output. Direct to the
    database unless ``through_proxies``."""
    env = stack.env if through_proxies else stack.direct_env
    done = pmp_ok("ingest", str(path), env=env, timeout=size(600, 7200))  # 1,000,000 records
    return done.stderr + done.stdout


class Loader(threading.Thread):
    """``pmp ingest`` of ``files`` one after another in the background, as an operator's
    bulk load runs while a fault is made: each file's output, or what stopped it."""

    def __init__(self, stack: FaultStack, files: list[Path]):
        super().__init__(daemon=True)
        self.stack, self.files = stack, files
        self.loaded: list[str] = []
        self.failures: list[BaseException] = []

    def run(self) -> None:
        try:
            for path in self.files:
                self.loaded.append(ingest(self.stack, path))
        except BaseException as exc:  # noqa: BLE001 - the test asserts there is none
            self.failures.append(exc)

    def begin(self) -> int:
        """Start, and wait for the first file to be recorded; how many files are not yet."""
        self.start()
        wait_until(lambda: self.loaded or self.failures, 300, "the first file recorded")
        return len(self.files) - len(self.loaded)
