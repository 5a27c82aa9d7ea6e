"""The whole system as ``make run`` runs it (``pmp up``), on a data folder, a broker vhost and
(on PostgreSQL) schemas of its own, and the signed-in users who use it."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from benchmarks.common import AMQP_URI, DATABASE_URL
from tests.infrastructure import LOCAL_RABBIT_API, Broker, drop_schemas

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("sqlite", "postgresql")


class System:
    def __init__(self, folder: Path, backend: str):
        port = _free_port()
        self.backend = backend
        self.folder = folder
        self.url = f"http://127.0.0.1:{port}"
        self.data = folder / "var"
        folder.mkdir(parents=True, exist_ok=True)
        self.broker = Broker(AMQP_URI, os.environ.get("PMP_BENCH_RABBIT_API", LOCAL_RABBIT_API))
        self.prefix = f"benchf{port}_"
        self.env = {
            **os.environ,
            "PMP_DATA_DIR": str(self.data),
            "PMP_AMQP_URI": self.broker.create_vhost(),
            "PMP_DATABASE_URL": DATABASE_URL if backend == "postgresql" else "",
            "PMP_SCHEMA_PREFIX": self.prefix,
            "PMP_GATEWAY_ADDRESS": f"127.0.0.1:{port}",
            "PMP_PUBLIC_URL": self.url,
            "PMP_SECRET_KEY": "bench-secret-key",
            "PMP_LOG_LEVEL": "WARNING",
            "PMP_ARGON2": "t=1,m=1024,p=1",
            "PMP_LOGIN_RATE_LIMIT": "100000/60",
        }
        self.log_path = folder / f"pmp-up-{backend}.log"
        self.log = self.log_path.open("wb")
        self.up = subprocess.Popen([sys.executable, "-m", "pmp", "up"], env=self.env,
                                   stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)  # fmt: skip
        self._wait(lambda: "CPMRS is running at" in self.log_path.read_text(), 180)

    def ingest(self, path: Path) -> None:
        done = subprocess.run([sys.executable, "-m", "pmp", "ingest", str(path)], env=self.env,
                              cwd=ROOT, capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"pmp ingest failed: {done.stderr[-2000:]}")

    def projected(self) -> int:
        """Dispensations in the query service's read model."""
        if self.backend == "sqlite":
            path = self.data / "query.sqlite"
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                return conn.execute("SELECT count(*) FROM dispensations").fetchone()[0]
        engine = sa.create_engine(DATABASE_URL, poolclass=sa.NullPool)
        try:
            with engine.connect() as conn:
                table = f'"{self.prefix}query".dispensations'
                return conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
        finally:
            engine.dispose()

    def load(self, path: Path, records: int) -> float:
        """Ingest ``path``; the seconds until all ``records`` are in the read model."""
        began = time.perf_counter()
        self.ingest(path)
        while self.projected() < records:
            time.sleep(0.5)
        return time.perf_counter() - began

    def token(self, role: str) -> str:
        """A bearer token of a ready user of ``role`` (made the way an operator makes one)."""
        from tests.helpers.accounts import create_first_administrator, create_user, ready
        from tests.helpers.stack import Stack

        stack = Stack(self.url, self.env, None, None)  # type: ignore[arg-type]
        if not hasattr(self, "_admin"):
            self._admin = ready(stack, create_first_administrator(stack, self.folder))
        return ready(stack, create_user(stack, self._admin, role, self.folder)).token

    @property
    def pid(self) -> int:
        return self.up.pid

    def service_pid(self, name: str) -> int:
        """The process of one service (``gateway`` included) under ``pmp up``."""
        import psutil

        from benchmarks.cpu import service_of

        for child in psutil.Process(self.up.pid).children():
            if service_of(child) == name:
                return child.pid
        raise LookupError(f"no {name} process under pmp up")

    def stop(self) -> None:
        self.up.send_signal(signal.SIGINT)
        try:
            self.up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.up.kill()
        self.log.close()
        self.broker.delete_vhost(self.env["PMP_AMQP_URI"])
        if self.backend == "postgresql":
            drop_schemas(DATABASE_URL, self.prefix)

    def _wait(self, condition, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline or self.up.poll() is not None:
                raise RuntimeError(f"pmp up did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
