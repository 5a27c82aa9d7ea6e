"""A read model's rows as the tests compare them: every row of its tables, in key order,
read straight from the service's database (not through the proxies)."""

from __future__ import annotations

import sqlalchemy as sa

from pmp.config import load_settings
from pmp.db import open_database
from tests.faults.stack import FaultStack


def rows(stack: FaultStack, service: str, metadata: sa.MetaData) -> dict[str, list[tuple]]:
    """Each table of ``metadata`` in ``service``'s database: its rows, sorted."""
    db = open_database(load_settings(stack.direct_env), service, pool_size=1)
    try:
        with db.read() as conn:
            return {
                table.name: sorted(tuple(row) for row in conn.execute(sa.select(table)))
                for table in metadata.sorted_tables
            }
    finally:
        db.dispose()
