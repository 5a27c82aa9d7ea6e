"""Named checkpoints: how far a relay or a projector has got through a store.

A checkpoint only moves by compare-and-set inside the caller's transaction, so it is
committed together with the work it stands for, and a worker that lost its place (another
replica moved on, or a rebuild reset it) fails instead of writing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.db import UtcDateTime

metadata = sa.MetaData()

checkpoints = sa.Table(
    "checkpoints",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)


class CheckpointMoved(Exception):
    """The checkpoint is no longer where the caller read it; its transaction must roll back."""


# Built once: each projector batch and relay publish reads and moves a checkpoint.
_READ = sa.select(checkpoints.c.position).where(checkpoints.c.name == sa.bindparam("name"))
_ADVANCE = (
    checkpoints.update()
    .where(
        checkpoints.c.name == sa.bindparam("checkpoint"),
        checkpoints.c.position == sa.bindparam("from_position"),
    )
    .values(position=sa.bindparam("to_position"), updated_at=sa.bindparam("now"))
)


def read(conn: Connection, name: str) -> int:
    position = conn.scalar(_READ, {"name": name})
    return position or 0


def advance(conn: Connection, name: str, from_position: int, to_position: int) -> None:
    """Move ``name`` from ``from_position`` to ``to_position``, or raise ``CheckpointMoved``."""
    now = datetime.now(UTC)
    moved = conn.execute(
        _ADVANCE,
        {"checkpoint": name, "from_position": from_position, "to_position": to_position,
         "now": now},
    ).rowcount  # fmt: skip
    if moved:
        return
    if from_position == 0 and read(conn, name) == 0:
        try:
            with conn.begin_nested():
                conn.execute(
                    checkpoints.insert().values(name=name, position=to_position, updated_at=now)
                )
            return
        except sa.exc.IntegrityError:
            pass
    raise CheckpointMoved(f"checkpoint {name!r} is no longer at {from_position}")


def reset(conn: Connection, prefix: str) -> None:
    """Forget every checkpoint named ``prefix`` or ``prefix:<source>``."""
    conn.execute(
        checkpoints.delete().where(
            sa.or_(checkpoints.c.name == prefix, checkpoints.c.name.startswith(prefix + ":"))
        )
    )
