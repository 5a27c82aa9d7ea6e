"""The event store's two hot paths on PostgreSQL, written against the driver.

Appends are the system's most frequent write, so each is one statement in autocommit mode:
one round trip checks the stream's version and inserts the events, atomically. Stamping
(see ``pmp.eventstore``) sends its lock and update in one pipeline. Both borrow their
connection from the SQLAlchemy pool; everything else in the kernel goes through Core.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import psycopg
from psycopg import errors

from pmp.db import Database


class StreamVersionTaken(Exception):
    """A concurrent append took the version (or an event id) first; nothing was written."""


# The version check, the batch row and the events, in one statement. When the stream is not
# at the expected version, ``accepted`` is empty and nothing at all is inserted.
_HEAD = """
WITH head AS (
    SELECT coalesce(max(version), 0) AS version FROM events WHERE stream = %(stream)s
), accepted AS (
    SELECT version FROM head
    WHERE %(expected)s::integer IS NULL OR version = %(expected)s::integer
), new_batch AS (
    INSERT INTO appends (size) SELECT %(size)s FROM accepted RETURNING batch
)
INSERT INTO events (batch, n, event_id, stream, version, type, schema_version, data,
                    occurred_at, actor_id, actor_role, correlation_id, causation_id)
"""

_APPEND_ONE = (
    _HEAD
    + """
SELECT new_batch.batch, 1, %(event_id)s, %(stream)s, accepted.version + 1, %(type)s,
       %(schema_version)s, %(data)s::jsonb, %(occurred_at)s, %(actor_id)s, %(actor_role)s,
       %(correlation_id)s, %(causation_id)s
FROM new_batch, accepted
RETURNING version
"""
)

# A batch travels as one JSON array: far cheaper to send than nine typed arrays.
_APPEND_MANY = (
    _HEAD
    + """
SELECT new_batch.batch, e.n, e.event_id, %(stream)s, accepted.version + e.n, e.type,
       e.schema_version, e.data, e.occurred_at, e.actor_id, e.actor_role, e.correlation_id,
       e.causation_id
FROM new_batch, accepted,
     ROWS FROM (jsonb_to_recordset(%(events)s::jsonb) AS (event_id uuid, type text,
         schema_version smallint, data jsonb, occurred_at timestamptz, actor_id text,
         actor_role text, correlation_id text, causation_id text))
     WITH ORDINALITY AS e(event_id, type, schema_version, data, occurred_at, actor_id,
                          actor_role, correlation_id, causation_id, n)
RETURNING version
"""
)

# Positions for committed batches in batch order (a stream's batches are in version order),
# continuing above the highest position handed out so far.
_STAMP = """
WITH pending AS (
    SELECT batch, size, sum(size) OVER (ORDER BY batch) AS running
    FROM appends WHERE last_position IS NULL ORDER BY batch LIMIT %(limit)s
), base AS (
    SELECT coalesce(max(last_position), 0) AS top FROM appends
)
UPDATE appends
SET first_position = base.top + pending.running - pending.size + 1,
    last_position = base.top + pending.running
FROM pending, base WHERE appends.batch = pending.batch
"""


def append(
    db: Database, stream: str, expected_version: int | None, rows: Sequence[dict]
) -> int | None:
    """Insert ``rows`` after ``expected_version``; the new version, or None if it was wrong."""
    if len(rows) == 1:
        params = {**rows[0], "data": orjson.dumps(rows[0]["data"]).decode()}
        sql = _APPEND_ONE
    else:
        params = {"events": orjson.dumps(rows).decode()}
        sql = _APPEND_MANY
    params.update(stream=stream, expected=expected_version, size=len(rows))
    for attempt in (1, 2):
        pooled = db.engine.raw_connection()
        try:
            conn: psycopg.Connection = pooled.driver_connection
            # One statement, atomic by itself: no BEGIN, no COMMIT on the hot path. The pool
            # is shared with transactions, so autocommit is only on while the append runs.
            conn.autocommit = True
            try:
                versions = conn.execute(sql, params).fetchall()
            finally:
                if not conn.broken:
                    conn.autocommit = False
            return max(v for (v,) in versions) if versions else None
        except errors.UniqueViolation:
            raise StreamVersionTaken(stream) from None
        except psycopg.OperationalError:
            # The pool does not ping before each checkout (that would double the round
            # trips); a connection the server dropped fails once and is replaced. Retrying
            # is safe: the statement is atomic, and a replayed append is recognised by ids.
            pooled.invalidate()
            if attempt == 2:
                raise
        finally:
            pooled.close()
    raise AssertionError("unreachable")  # pragma: no cover


def stamp(db: Database, lock_key: int, limit: int) -> int:
    """Give up to ``limit`` committed, unstamped batches positions; return how many.

    The lock is taken in its own statement, before the update's snapshot, so every stamp
    sees the positions of the stamp before it.
    """
    pooled = db.engine.raw_connection()
    try:
        conn: psycopg.Connection = pooled.driver_connection
        with conn.transaction(), conn.pipeline():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))
            stamped = conn.execute(_STAMP, {"limit": limit})
        return stamped.rowcount
    except psycopg.OperationalError:
        pooled.invalidate()
        raise
    finally:
        pooled.close()
