"""``pmp.db.insert_rows`` stores what SQLAlchemy's own insert would, on both backends."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from pmp.db import UtcDateTime, insert_rows

metadata = sa.MetaData()
things = sa.Table(
    "bulk_things",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("person_id", sa.Uuid, nullable=False),
    sa.Column("day", sa.Date),
    sa.Column("count", sa.Integer),
    sa.Column("facts", sa.JSON),
    sa.Column("at", UtcDateTime()),
)


def row(n: int, **given) -> dict:
    return {
        "id": f"t{n}",
        "person_id": uuid.UUID(int=n),
        "day": date(2026, 1, n),
        "count": n,
        "facts": {"n": n, "names": ["ā", "b"]},
        "at": datetime(2026, 1, n, 12, tzinfo=UTC),
        **given,
    }


def stored(conn) -> list[dict]:
    return [dict(r) for r in conn.execute(sa.select(things).order_by(things.c.id)).mappings()]


def test_rows_come_back_as_given_and_as_an_ordinary_insert_stores_them(database) -> None:
    database.create(metadata)
    given = [row(1), row(2, day=None, count=None, facts=None, at=None), row(3)]
    with database.write() as conn:
        insert_rows(conn, things, given)
    with database.read() as conn:
        bulk = stored(conn)
    assert bulk == given
    with database.write() as conn:
        conn.execute(things.delete())
        conn.execute(things.insert(), given)
    with database.read() as conn:
        assert stored(conn) == bulk


def test_a_row_missing_a_column_is_refused_and_nothing_is_stored(database) -> None:
    database.create(metadata)
    incomplete = row(2)
    del incomplete["count"]
    with pytest.raises(KeyError, match="count"), database.write() as conn:
        insert_rows(conn, things, [row(1), incomplete])
    with database.read() as conn:
        assert stored(conn) == []
