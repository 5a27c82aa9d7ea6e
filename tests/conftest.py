"""Fixtures shared by every test: a broker vhost and a database schema of the test's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pmp.config import Settings, load_settings
from pmp.db import Database, open_postgresql, open_sqlite
from tests.infrastructure import Broker, InfrastructureMissing, find_broker, find_database


def _stop(started: list) -> None:
    for container in started:
        container.stop()


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    started: list = []
    try:
        yield find_broker(started)
    except InfrastructureMissing as exc:
        pytest.exit(str(exc), returncode=3)
    finally:
        _stop(started)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    started: list = []
    try:
        yield find_database(started)
    except InfrastructureMissing as exc:
        pytest.exit(str(exc), returncode=3)
    finally:
        _stop(started)


@pytest.fixture
def amqp_uri(broker: Broker) -> Iterator[str]:
    """An AMQP URI into a vhost that exists for this test only."""
    uri = broker.create_vhost()
    yield uri
    broker.delete_vhost(uri)


@pytest.fixture
def schema_prefix(postgres_url: str) -> Iterator[str]:
    """A prefix for this test's PostgreSQL schemas; they are dropped afterwards."""
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    yield prefix
    engine = sa.create_engine(postgres_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        names = conn.scalars(
            sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"),
            {"p": prefix + "%"},
        ).all()
        for name in names:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
    engine.dispose()


@pytest.fixture
def postgresql_db(postgres_url: str, schema_prefix: str) -> Iterator[Database]:
    db = open_postgresql(postgres_url, schema_prefix + "store", pool_size=12)
    yield db
    db.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = open_sqlite(tmp_path / "store.sqlite")
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def database(backend: str, request) -> Database:
    """The same test on each backend: an empty SQLite file, or an empty PostgreSQL schema."""
    return request.getfixturevalue(f"{backend}_db")


@pytest.fixture
def settings_for(tmp_path: Path, request):
    """Build ``Settings`` for services under test on ``backend`` with ``amqp_uri``."""

    def make(backend: str, amqp_uri: str, **extra: str) -> Settings:
        env = {"PMP_AMQP_URI": amqp_uri, "PMP_DATA_DIR": str(tmp_path / "data"), **extra}
        if backend == "postgresql":
            env["PMP_DATABASE_URL"] = request.getfixturevalue("postgres_url")
            env["PMP_SCHEMA_PREFIX"] = request.getfixturevalue("schema_prefix")
        return load_settings(env)

    return make
