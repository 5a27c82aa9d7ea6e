"""One database per service: a SQLite file (embedded) or a PostgreSQL schema (deployment).

Everything a service stores (its event store, relay checkpoint, processed-event inbox and
read models) lives in its own ``Database``; a service never opens another's.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pmp.config import Settings
from pmp.locks import AdvisoryLocks


def _use_green_waits() -> None:
    """Under eventlet, make psycopg wait through ``select`` so a query yields the hub.

    psycopg's default wait is a C ``poll`` that blocks every greenlet of a service while one
    query runs (no ping answered while a projector caught up). psycopg picks its wait when
    first imported, and the event store imports it before this module: so the choice is
    made here either way, in the environment before that import or on the module after it.
    """
    eventlet = sys.modules.get("eventlet")
    if eventlet is None or not eventlet.patcher.is_monkey_patched("select"):
        return
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
    waiting = sys.modules.get("psycopg.waiting")
    if waiting is not None:
        waiting.wait = waiting.wait_select
        waiting._ready = waiting._ready_select


_use_green_waits()

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# SQLite allows one writer at a time. Writers in one process queue on this lock (green under
# eventlet) instead of spinning in SQLite's busy handler, which would block the whole hub.
_sqlite_write_locks: dict[str, threading.Lock] = {}
_sqlite_write_locks_guard = threading.Lock()


class UtcDateTime(sa.types.TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: every time is stored in UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Database:
    """An engine plus the few facts about it that the kernel's SQL depends on."""

    def __init__(
        self,
        engine: Engine,
        schema: str | None,
        path: Path | None = None,
        locks: AdvisoryLocks | None = None,
    ):
        self.engine = engine
        self.locks = locks  # PostgreSQL: the session advisory locks of this process
        self.schema = schema
        self.path = path
        self.dialect = engine.dialect.name
        self._write_lock: threading.Lock | None = None
        if path is not None:
            with _sqlite_write_locks_guard:
                self._write_lock = _sqlite_write_locks.setdefault(str(path), threading.Lock())

    @property
    def is_postgresql(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the database's write lock at BEGIN."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engine.connect() as conn:
            conn = conn.execution_options(pmp_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def create(self, metadata: sa.MetaData) -> None:
        """Create the tables of ``metadata`` that do not exist yet, and add to those that do
        the nullable columns they lack: a store made by an earlier version gains the columns
        added since (NULL in its rows). That is the only change to a table done here."""
        metadata.create_all(self.engine, checkfirst=True)
        with self.read() as conn:
            missing = _missing_columns(conn, metadata)
        if missing:
            with self.write() as conn:  # checked again: another process may have added them
                for table, column in _missing_columns(conn, metadata):
                    _add_column(conn, table, column)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.locks is not None:
            self.locks.close()

    def __repr__(self) -> str:
        where = self.path or self.schema
        return f"<Database {self.dialect} {where}>"


def _missing_columns(conn: Connection, metadata: sa.MetaData) -> list[tuple[sa.Table, sa.Column]]:
    inspector = sa.inspect(conn)
    missing = []
    for table in metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name, schema=table.schema)}
        missing += [(table, c) for c in table.columns if c.nullable and c.name not in present]
    return missing


def _add_column(conn: Connection, table: sa.Table, column: sa.Column) -> None:
    quote = conn.dialect.identifier_preparer
    kind = column.type.compile(dialect=conn.dialect)
    # PostgreSQL: IF NOT EXISTS, as replicas starting together may both add it
    exists = " IF NOT EXISTS" if conn.dialect.name == "postgresql" else ""
    conn.exec_driver_sql(
        f"ALTER TABLE {quote.format_table(table)} "
        f"ADD COLUMN{exists} {quote.format_column(column)} {kind}"
    )


def advisory_key(name: str) -> int:
    """A stable signed 64-bit PostgreSQL advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def open_database(settings: Settings, service: str, *, pool_size: int | None = None) -> Database:
    """The database of ``service`` under ``settings``; ``pool_size`` (a command's own, small
    need) stands for both PMP_DB_POOL_SIZE and PMP_DB_MAX_CONNECTIONS."""
    if settings.embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return open_sqlite(settings.data_dir / f"{service}.sqlite")
    if settings.database_url.startswith("sqlite"):
        return open_sqlite(Path(sa.make_url(settings.database_url).database or ":memory:"))
    schema = settings.schema_prefix + service
    return open_postgresql(
        settings.database_url,
        schema,
        pool_size=pool_size or settings.db_pool_size,
        max_connections=pool_size or settings.db_max_connections,
    )


def open_sqlite(path: Path) -> Database:
    path = Path(path).resolve()
    engine = sa.create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": 30, "check_same_thread": False},
        # orjson: a 1,000-record batch of dispensations encodes several times faster
        json_serializer=lambda value: orjson.dumps(value).decode(),
        json_deserializer=orjson.loads,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Up to 64 MB of pages per connection, taken only as used (the default is 2 MB): a
        # read model of a million rows indexed by random ids (the alerts watch's dispensations)
        # inserts about a quarter faster.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("pmp_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return Database(engine, schema=None, path=path)


def open_postgresql(
    url: str, schema: str, *, pool_size: int = 2, max_connections: int | None = None
) -> Database:
    """Connect with ``search_path`` set to the service's own schema, creating it if needed.

    At most ``max_connections`` (default ``pool_size``) at once, of which ``pool_size`` stay
    open when idle, plus one for the process's advisory locks: several stacks share one
    server's 100 connections. Each connection names its schema as ``application_name``, so
    operators see in ``pg_stat_activity`` which service holds it."""
    if not SCHEMA_NAME.match(schema):
        raise ValueError(f"{schema!r} is not a usable PostgreSQL schema name")
    url = _psycopg_url(url)
    with sa.create_engine(url, poolclass=sa.NullPool).begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')

    def connect_args(name: str) -> dict[str, str]:
        return {"options": f"-c search_path={schema}", "application_name": name}

    engine = sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max(0, (max_connections or pool_size) - pool_size),
        connect_args=connect_args(schema),
    )
    locks = sa.create_engine(
        url,
        poolclass=sa.NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args=connect_args(f"{schema} locks"),
    )
    return Database(engine, schema=schema, locks=AdvisoryLocks(locks))


def _psycopg_url(url: str) -> str:
    """Accept ``postgresql://`` as well as ``postgresql+psycopg://``."""
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def insert_rows(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (each with a value for every column), in the caller's transaction.

    The same as ``conn.execute(table.insert(), rows)``, less SQLAlchemy's bookkeeping for each
    row, which costs as much as SQLite's own work at a million rows: the statement is compiled
    once per dialect and only the values whose column type converts them are touched. On
    PostgreSQL the rows travel by COPY, several times faster than one INSERT each."""
    if not rows:
        return
    bulk = _bulk_insert(table, conn.dialect)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(bulk.copy_sql) as copy:
            for row in rows:
                copy.write_row(_converted(bulk, row))
        return
    params: list[Any] = [_converted(bulk, row) for row in rows]
    if not conn.dialect.positional:
        params = [dict(zip(bulk.names, values, strict=True)) for values in params]
    conn.exec_driver_sql(bulk.sql, params)


def _converted(bulk: _BulkInsert, row: Mapping[str, Any]) -> tuple[Any, ...]:
    values = bulk.values(row)
    if not bulk.converted:
        return tuple(values)
    changed = list(values)
    for i, convert in bulk.converted:
        changed[i] = convert(changed[i])
    return tuple(changed)


@dataclass(frozen=True)
class _BulkInsert:
    sql: str
    copy_sql: str  # PostgreSQL: the same columns by COPY
    names: list[str]  # in the statement's order
    values: Callable[[Mapping[str, Any]], Sequence[Any]]  # a row's values in that order
    converted: list[tuple[int, Callable[[Any], Any]]]  # where a column type converts


_bulk_inserts: dict[tuple[sa.Table, str], _BulkInsert] = {}


def _bulk_insert(table: sa.Table, dialect: sa.Dialect) -> _BulkInsert:
    key = (table, dialect.name)
    if key not in _bulk_inserts:
        compiled = table.insert().compile(dialect=dialect)
        names = list(compiled.positiontup or []) if dialect.positional else list(compiled.params)
        types = {c.name: c.type for c in table.c}
        converters = [types[n].dialect_impl(dialect).bind_processor(dialect) for n in names]
        values = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
        converted = [(i, c) for i, c in enumerate(converters) if c is not None]
        quote = dialect.identifier_preparer
        columns = ", ".join(quote.quote(n) for n in names)
        copy_sql = f"COPY {quote.format_table(table)} ({columns}) FROM STDIN"
        _bulk_inserts[key] = _BulkInsert(str(compiled), copy_sql, names, values, converted)
    return _bulk_inserts[key]
