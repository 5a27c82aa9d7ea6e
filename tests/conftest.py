"""Fixtures shared by every test: a broker vhost and a database schema of the test's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pmp.db import Database, open_postgresql, open_sqlite
from tests.helpers.processes import TIMEOUT_SCALE, scaled
from tests.infrastructure import (
    Broker,
    InfrastructureMissing,
    drop_schemas,
    find_broker,
    find_database,
)

pytest_plugins = ["tests.helpers.stack", "tests.helpers.smtp"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stretch every test's pytest-timeout by PMP_TEST_TIMEOUT_SCALE, as its own deadlines
    are (``scaled``): a busy machine gives more time to the whole test, not only its waits."""
    if TIMEOUT_SCALE == 1:
        return
    default = float(config.getini("timeout") or 0)
    for item in items:
        marker = item.get_closest_marker("timeout")
        seconds = float(marker.args[0]) if marker and marker.args else default
        if seconds:
            item.add_marker(pytest.mark.timeout(scaled(seconds)), append=False)


def _session_resource(find) -> Iterator:
    """What ``find`` locates (or starts); the whole run stops if it does not answer."""
    started: list = []
    try:
        yield find(started)
    except InfrastructureMissing as exc:
        pytest.exit(str(exc), returncode=3)
    finally:
        for container in started:
            container.stop()


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    yield from _session_resource(find_broker)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    yield from _session_resource(find_database)


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
    drop_schemas(postgres_url, prefix)


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
def env_for(tmp_path: Path, request):
    """``PMP_*`` variables for processes under test on ``backend``, talking to ``amqp_uri``.

    SQLite: files in this test's temporary folder. PostgreSQL: schemas with this test's
    prefix, dropped afterwards.
    """

    def make(backend: str, amqp_uri: str, **extra: str) -> dict[str, str]:
        env = {
            "PMP_AMQP_URI": amqp_uri,
            "PMP_DATA_DIR": str(tmp_path / "data"),
            "PMP_DATABASE_URL": "",
            "PMP_POLL_INTERVAL": "0.5",
            **extra,
        }
        if backend == "postgresql":
            env["PMP_DATABASE_URL"] = request.getfixturevalue("postgres_url")
            env["PMP_SCHEMA_PREFIX"] = request.getfixturevalue("schema_prefix")
        return env

    return make


@pytest.fixture
def notes_env(backend: str, amqp_uri: str, env_for) -> dict[str, str]:
    """The environment of the test "notes" service and its helpers on ``backend``."""
    return env_for(backend, amqp_uri)


@pytest.fixture
def notes_store(notes_env):
    from pmp.config import load_settings
    from tests.helpers.notes import open_notes

    store = open_notes(load_settings(notes_env))
    yield store
    store.db.dispose()
