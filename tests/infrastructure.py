"""Where the tests find RabbitMQ and PostgreSQL, and how each test gets its own slice.

Order of preference, for each of the two: the ``PMP_TEST_*`` variable; a container started
through testcontainers when a Docker engine answers; the local service on its default port.
Whatever is chosen must answer, or the run stops with a message saying what was tried: a
missing broker or database fails the suite, it never skips tests.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import kombu
import requests
import sqlalchemy as sa

from pmp.broker import safe_url

LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_RABBIT_API = "http://guest:guest@127.0.0.1:15672"
LOCAL_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class InfrastructureMissing(RuntimeError):
    """The broker or database the tests need did not answer."""


@dataclass
class Broker:
    amqp_uri: str  # the default vhost
    api_uri: str | None  # RabbitMQ management API, when it answers

    def create_vhost(self, name: str | None = None) -> str:
        """A new, empty vhost (``name``: one deleted earlier, made again); returns the AMQP
        URI that points into it."""
        name = name or f"pmp-test-{uuid.uuid4().hex[:12]}"
        if self.api_uri:
            base, auth = _api(self.api_uri)
            requests.put(f"{base}/api/vhosts/{name}", auth=auth, timeout=10).raise_for_status()
            requests.put(
                f"{base}/api/permissions/{name}/{auth[0]}",
                json={"configure": ".*", "write": ".*", "read": ".*"},
                auth=auth,
                timeout=10,
            ).raise_for_status()
        elif shutil.which("rabbitmqctl"):
            user = urlsplit(self.amqp_uri).username or "guest"
            subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True)
            subprocess.run(
                ["rabbitmqctl", "-q", "set_permissions", "-p", name, user, ".*", ".*", ".*"],
                check=True,
            )
        else:
            raise InfrastructureMissing(
                "cannot create a RabbitMQ vhost per test: enable the management plugin "
                "(rabbitmq-plugins enable rabbitmq_management) or put rabbitmqctl on PATH"
            )
        parts = urlsplit(self.amqp_uri)
        return urlunsplit(parts._replace(path="/" + quote(name, safe="")))

    def delete_vhost(self, amqp_uri: str) -> None:
        name = urlsplit(amqp_uri).path.lstrip("/")
        if self.api_uri:
            base, auth = _api(self.api_uri)
            requests.delete(f"{base}/api/vhosts/{name}", auth=auth, timeout=10)
        elif shutil.which("rabbitmqctl"):
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], check=False)


def _api(api_uri: str) -> tuple[str, tuple[str, str]]:
    parts = urlsplit(api_uri)
    auth = (parts.username or "guest", parts.password or "guest")
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc)).rstrip("/"), auth


@functools.cache
def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def find_broker(started: list) -> Broker:
    """The broker for this test run; containers it starts are appended to ``started``."""
    if uri := os.environ.get("PMP_TEST_AMQP_URI"):
        broker = Broker(uri, os.environ.get("PMP_TEST_RABBIT_API_URI") or _guess_api(uri))
        where = "PMP_TEST_AMQP_URI"
    elif _docker_answers():
        from testcontainers.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer("rabbitmq:3-management").with_exposed_ports(15672)
        container.start()
        started.append(container)
        host = container.get_container_host_ip()
        amqp = f"amqp://guest:guest@{host}:{container.get_exposed_port(5672)}/"
        api = f"http://guest:guest@{host}:{container.get_exposed_port(15672)}"
        broker, where = Broker(amqp, api), "a testcontainers RabbitMQ"
    else:
        broker = Broker(LOCAL_AMQP, os.environ.get("PMP_TEST_RABBIT_API_URI", LOCAL_RABBIT_API))
        where = "the local RabbitMQ"
    try:
        with kombu.Connection(broker.amqp_uri, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        raise InfrastructureMissing(
            f"RabbitMQ at {safe_url(broker.amqp_uri)} ({where}) did not answer: {exc}. "
            "Start one (rabbitmq-server -detached) or set PMP_TEST_AMQP_URI."
        ) from exc
    if broker.api_uri:
        try:
            base, auth = _api(broker.api_uri)
            requests.get(f"{base}/api/overview", auth=auth, timeout=5).raise_for_status()
        except Exception:
            broker.api_uri = None  # fall back to rabbitmqctl
    return broker


def _guess_api(amqp_uri: str) -> str:
    parts = urlsplit(amqp_uri)
    user, password = parts.username or "guest", parts.password or "guest"
    return f"http://{user}:{password}@{parts.hostname}:15672"


def find_database(started: list) -> str:
    """The PostgreSQL URL for this test run."""
    if url := os.environ.get("PMP_TEST_DATABASE_URL"):
        where = "PMP_TEST_DATABASE_URL"
    elif _docker_answers():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:15", driver="psycopg")
        container.start()
        started.append(container)
        url, where = container.get_connection_url(), "a testcontainers PostgreSQL"
    else:
        url, where = LOCAL_DATABASE, "the local PostgreSQL"
    try:
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception as exc:
        raise InfrastructureMissing(
            f"PostgreSQL at {safe_url(url)} ({where}) did not answer: {exc}. Start it "
            "(pg_ctlcluster --skip-systemctl-redirect 15 main start) or set "
            "PMP_TEST_DATABASE_URL."
        ) from exc
    return url


def drop_schemas(url: str, prefix: str) -> None:
    """Drop every PostgreSQL schema whose name starts with ``prefix``."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        names = conn.scalars(
            sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"),
            {"p": prefix.replace("_", r"\_") + "%"},
        ).all()
        for name in names:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
    engine.dispose()
