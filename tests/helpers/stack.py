"""The whole system, started the way ``make run`` starts it: ``pmp up`` in a child process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.helpers.processes import Process, python, wait_until
from tests.helpers.smtp import SmtpServer, running_smtp_server
from tests.infrastructure import drop_schemas

OPERATOR_TOKEN = "test-operator-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    process: Process
    mail: SmtpServer

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return requests.post(self.url + path, timeout=30, **kwargs)

    def env_for_commands(self) -> dict[str, str]:
        """The environment for a ``pmp`` command run against this stack."""
        return {**os.environ, **self.env}

    def log_lines(self) -> list[dict]:
        """Every JSON log line any service has written so far."""
        lines = []
        for line in self.process.log().splitlines():
            if line.startswith("{"):
                # A traceback longer than a pipe write can interleave with another line.
                with contextlib.suppress(json.JSONDecodeError):
                    lines.append(json.loads(line))
        return lines


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def stack(request, broker, tmp_path_factory) -> Iterator[Stack]:
    with running_smtp_server() as mail:
        yield from _stack(request, broker, tmp_path_factory, mail)


def _stack(
    request,
    broker,
    tmp_path_factory,
    mail: SmtpServer,
    settings: dict[str, str] | None = None,
    address: Callable[[str], str] = str,
) -> Iterator[Stack]:
    """``pmp up`` with the test settings below, and ``settings`` over them. ``address``
    rewrites the broker's and the database's URL as the services get them (the fault
    suite puts its TCP proxies there)."""
    backend = request.param
    amqp_uri = broker.create_vhost()
    port = free_port()
    env = {
        "PMP_AMQP_URI": address(amqp_uri),
        "PMP_DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "PMP_DATABASE_URL": "",
        "PMP_GATEWAY_ADDRESS": f"127.0.0.1:{port}",
        "PMP_OPERATOR_TOKEN": OPERATOR_TOKEN,
        "PMP_POLL_INTERVAL": "0.5",
        "PMP_LOG_LEVEL": "INFO",
        "PMP_SECRET_KEY": "stack-test-secret-key",
        "PMP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PMP_SMTP_URL": mail.url,
        # Cheap hashes keep the suite fast; the cost itself is tested in the unit tests.
        "PMP_ARGON2": "t=1,m=1024,p=1",
        # Every test signs in from 127.0.0.1; the per-address limit has its own test.
        "PMP_LOGIN_RATE_LIMIT": "100000/60",
        # Likewise for mail: tests/integration/test_mail_limits.py has a stack with the limits.
        "PMP_MAIL_LIMIT_PER_CLIENT": "100000/60",
        "PMP_MAIL_LIMIT_PER_RECIPIENT": "100000/60",
        **(settings or {}),
    }
    if backend == "postgresql":
        env["PMP_DATABASE_URL"] = address(request.getfixturevalue("postgres_url"))
        env["PMP_SCHEMA_PREFIX"] = f"stack{port}_"
    up = Process("pmp-up", python("-m", "pmp", "up"), env, tmp_path_factory.mktemp("logs"))
    stack = Stack(f"http://127.0.0.1:{port}", env, up, mail)
    try:
        wait_until(lambda: "CPMRS is running at" in up.log(), 90, "pmp up announced", watch=[up])
        yield stack
    finally:
        if up.alive():
            up.popen.send_signal(signal.SIGINT)
            up.wait(timeout=60)
        up.stop()
        broker.delete_vhost(amqp_uri)
        if backend == "postgresql":
            drop_schemas(request.getfixturevalue("postgres_url"), env["PMP_SCHEMA_PREFIX"])


def operator() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
