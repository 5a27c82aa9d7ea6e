"""What every benchmark shares: where the database and broker are, and a result row."""

from __future__ import annotations

import os
import uuid
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import sqlalchemy as sa
from marshmallow import Schema, fields

from pmp.db import open_postgresql
from pmp.eventstore import EventStore
from pmp.registry import EventRegistry

DATABASE_URL = os.environ.get(
    "PMP_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
AMQP_URI = os.environ.get("PMP_BENCH_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")


@dataclass
class Result:
    benchmark: str  # "a", "b", ...
    case: str
    unit: str
    ours: float
    peer: float  # 0 when the case has no peer, only an absolute goal
    peer_name: str
    goal_ratio: float  # ours / peer must reach this (0: no ratio goal)
    note: str = ""
    goal: float = 0.0  # without a peer: ours must reach this (0: no goal)
    lower_is_better: bool = False  # latencies: ours must stay at or under ``goal``
    details: list[str] = field(default_factory=list)  # lines printed under the note

    @property
    def ratio(self) -> float:
        return self.ours / self.peer if self.peer else float("inf")

    @property
    def met(self) -> bool:
        if not self.peer:
            return self.ours <= self.goal if self.lower_is_better else self.ours >= self.goal
        return self.ratio >= self.goal_ratio

    @property
    def has_goal(self) -> bool:
        return bool(self.goal_ratio if self.peer else self.goal)

    def to_json(self) -> dict:
        return {**asdict(self), "ratio": round(self.ratio, 3), "met": self.met}


def scratch_schema(label: str) -> str:
    return f"bench_{label}_{uuid.uuid4().hex[:8]}"


def drop_schema(name: str) -> None:
    engine = sa.create_engine(DATABASE_URL, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    engine.dispose()


def libpq_params() -> dict[str, str]:
    """The database URL as the separate parameters the peer library asks for."""
    parts = urlsplit(DATABASE_URL.replace("+psycopg", ""))
    return {
        "dbname": parts.path.lstrip("/"),
        "host": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5432),
        "user": parts.username or "postgres",
        "password": parts.password or "",
    }


class NoteWritten(Schema):
    """The event every benchmark writes: small, as most of ours are."""

    text = fields.String(required=True)
    writer = fields.Integer(load_default=0)


def scratch_store(label: str, pool_size: int = 2) -> tuple[EventStore, str]:
    """An empty event store in a schema of its own; drop it with ``drop_schema``."""
    registry = EventRegistry()
    registry.register("NoteWritten", NoteWritten)
    schema = scratch_schema(label)
    store = EventStore(open_postgresql(DATABASE_URL, schema, pool_size=pool_size), registry)
    store.create_tables()
    return store, schema
