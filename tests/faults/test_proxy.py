"""The fault suite's TCP proxy against the real broker and database: it forwards, and its
cut, reset and delay are what the clients see."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import kombu
import pytest
import sqlalchemy as sa

from tests.faults.proxy import TcpProxy
from tests.faults.stack import through


@pytest.fixture
def database_proxy(postgres_url: str) -> Iterator[TcpProxy]:
    parts = urlsplit(postgres_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    yield proxy
    proxy.close()


def _select_one(url: str) -> int:
    engine = sa.create_engine(url, poolclass=sa.NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text("SELECT 1"))
    finally:
        engine.dispose()


def test_a_cut_database_refuses_until_restored(database_proxy, postgres_url):
    url = through(postgres_url, database_proxy)
    assert _select_one(url) == 1
    database_proxy.cut()
    with pytest.raises(sa.exc.OperationalError):
        _select_one(url)
    database_proxy.restore()
    assert _select_one(url) == 1


def test_a_reset_breaks_open_connections_only(database_proxy, postgres_url):
    engine = sa.create_engine(through(postgres_url, database_proxy), poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            conn.scalar(sa.text("SELECT 1"))
            assert database_proxy.connections == 1
            database_proxy.reset()
            with pytest.raises(sa.exc.OperationalError):
                conn.scalar(sa.text("SELECT 1"))
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT 1")) == 1
    finally:
        engine.dispose()


def test_a_delay_slows_each_round_trip(database_proxy, postgres_url):
    engine = sa.create_engine(through(postgres_url, database_proxy), poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            database_proxy.delay(0.3)
            started = time.monotonic()
            conn.scalar(sa.text("SELECT 1"))
            slowed = time.monotonic() - started
    finally:
        engine.dispose()
    # Not a timing assertion on the system: the proxy's own promise, a lower bound only.
    assert slowed >= 0.6  # one chunk each way


def test_the_broker_through_the_proxy_and_cut(broker, amqp_uri):
    parts = urlsplit(amqp_uri)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5672)
    try:
        with kombu.Connection(through(amqp_uri, proxy), connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1)
            assert proxy.connections == 1
            proxy.cut()
            assert proxy.connections == 0
        with pytest.raises(Exception), kombu.Connection(through(amqp_uri, proxy)) as conn:  # noqa: B017 - kombu raises one of several
            conn.ensure_connection(max_retries=1, timeout=5)
    finally:
        proxy.close()
