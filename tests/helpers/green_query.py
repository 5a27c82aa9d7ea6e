"""Does a PostgreSQL query let a service's other green threads run? (``python -m
tests.helpers.green_query DATABASE_URL SCHEMA``, run as a service runs: eventlet first, then
the kernel's modules in the order a service imports them.)

Prints how many times a ticker green thread ran while one query slept in the server for two
seconds: none means the query held the whole service (no ping answered, no request served).
"""

from __future__ import annotations

import sys
import time

import eventlet

eventlet.monkey_patch()

import psycopg  # noqa: E402,F401  (before the kernel's modules, as the event store does)
import sqlalchemy as sa  # noqa: E402

from pmp.db import open_postgresql  # noqa: E402


def main() -> None:
    db = open_postgresql(sys.argv[1], sys.argv[2], pool_size=2, max_connections=2)
    running = True
    ticks: list[float] = []

    def ticker() -> None:
        while running:
            ticks.append(time.monotonic())
            eventlet.sleep(0.01)

    eventlet.spawn(ticker)
    eventlet.sleep(0.05)
    started = time.monotonic()
    with db.engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_sleep(2)"))
    ended = time.monotonic()
    running = False
    print(sum(started < t < ended for t in ticks))


if __name__ == "__main__":
    main()
