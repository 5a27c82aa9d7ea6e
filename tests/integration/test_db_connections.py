"""An idle PostgreSQL stack holds few connections, each named by its service's schema, so
several stacks (a developer's ``make run`` and the test suite's) fit in a default server's
100 (issue 23, 8a: one idle stack used to hold 58)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pmp.config import load_settings
from pmp.topology import SERVICE_NAMES
from tests.helpers.processes import wait_until

pytestmark = pytest.mark.parametrize("stack", ["postgresql"], indirect=True)


def test_an_idle_stack_holds_its_pools_and_one_lock_connection_per_service(stack):
    settings = load_settings(stack.env)
    for _ in range(3):  # every service answers a ping: each pool has been used
        stack.get("/healthz")
    prefix = stack.env["PMP_SCHEMA_PREFIX"]
    engine = sa.create_engine(stack.env["PMP_DATABASE_URL"], poolclass=sa.NullPool)

    def held() -> dict[str, int]:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT application_name, count(*) FROM pg_stat_activity "
                    "WHERE starts_with(application_name, :prefix) GROUP BY 1"
                ),
                {"prefix": prefix},
            )
            return {name.removeprefix(prefix): n for name, n in rows}

    def idle() -> dict[str, int] | None:
        found = held()
        pools = {n: c for n, c in found.items() if not n.endswith(" locks")}
        return found if all(c <= settings.db_pool_size for c in pools.values()) else None

    found = wait_until(idle, 60, f"each pool back to PMP_DB_POOL_SIZE: {held()}")
    services = {name.removesuffix(" locks") for name in found}
    assert services <= set(SERVICE_NAMES), found
    assert all(found.get(f"{s} locks", 0) <= 1 for s in services), found
    assert sum(found.values()) <= len(services) * (settings.db_pool_size + 1) < 30, found
