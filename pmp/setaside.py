"""Set-aside events: what a projection or reaction could not apply, so it can go on.

A consumer that stopped at one event it cannot apply would silence everything after it (a
read model frozen, alerts never raised). Instead the event is recorded here, in the
consumer's own database and in the transaction that moves its checkpoint past it, and the
consumer carries on with the next. Operators see the count on /status and /healthz, list
the events with ``pmp projections set-aside`` and apply them again after a fix with
``pmp projections retry`` (or dismiss one that can never apply).

Only an event's own fault sets it aside: an unreachable database, broker or source service,
or a checkpoint moved by another replica, is waited out instead (``is_transient``). The
error kept names the exception, a trimmed first line of its message with quoted values
masked, and where it was raised: nothing of the event's data (no patient's name).
"""

from __future__ import annotations

import re
import traceback
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.checkpoints import CheckpointMoved
from pmp.db import UtcDateTime
from pmp.envelope import RecordedEvent
from pmp.sources import SourceUnavailable

metadata = sa.MetaData()

set_aside = sa.Table(
    "set_aside_events",
    metadata,
    sa.Column("consumer", sa.String(200), primary_key=True),  # projection or reaction name
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("source", sa.String(40), nullable=False),  # the service whose store holds it
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("error", sa.String(500), nullable=False),
    sa.Column("set_aside_at", UtcDateTime(), nullable=False),
    sa.Column("tries", sa.Integer, nullable=False),  # every try so far, retries included
    sa.Column("dismissed_at", UtcDateTime()),  # an operator decided it never applies
    # An operator asked for it to be applied again: the replica leading the consumer does.
    sa.Column("retry_requested_at", UtcDateTime()),
)

ERROR_LENGTH = 300
_QUOTED = re.compile(r"""(['"])(.*?)\1""")
_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_.]*")


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` says something around the event is unavailable, not the event wrong."""
    from kombu.exceptions import OperationalError as BrokerError
    from nameko.exceptions import RpcTimeout, UnknownService

    from pmp.broker import PublishFailed

    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc,
        (
            CheckpointMoved,
            SourceUnavailable,
            sa.exc.OperationalError,  # connection lost, database locked, serialisation
            sa.exc.InterfaceError,
            sa.exc.TimeoutError,  # no connection free in the pool
            ConnectionError,
            TimeoutError,
            RpcTimeout,
            UnknownService,
            BrokerError,  # the broker cannot be reached
            PublishFailed,  # the broker refused or did not confirm a relay batch
        ),
    )


def describe(exc: BaseException) -> str:
    """``Type: first line of the message (place raised)``, with no data of the event."""
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    message = _QUOTED.sub(_masked, lines[0] if lines else "")
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _ours(f.filename)]
    text = f"{type(cause).__name__}: {message}" if message else type(cause).__name__
    if not frames:
        return text[:ERROR_LENGTH]
    where = f" ({_short(frames[-1].filename)}:{frames[-1].lineno} in {frames[-1].name})"
    return text[: ERROR_LENGTH - len(where)] + where


def _masked(quoted: re.Match) -> str:
    """A quoted field name stays readable; any other quoted value might be a patient's."""
    mark, inside = quoted.group(1), quoted.group(2)
    return quoted.group(0) if _FIELD_NAME.fullmatch(inside) else f"{mark}…{mark}"


def _ours(path: str) -> bool:
    """A frame of this project's code, not of a library it calls."""
    return "site-packages" not in path and any(root in path for root in _ROOTS)


_ROOTS = ("/services/", "/pmp/", "/gateway/", "/tests/")


def _short(path: str) -> str:
    for root in _ROOTS:
        if root in path:
            return root[1:] + path.rsplit(root, 1)[1]
    return path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class SetAside:
    consumer: str
    event_id: uuid.UUID
    source: str
    position: int
    event_type: str
    error: str
    set_aside_at: datetime
    tries: int
    dismissed_at: datetime | None
    retry_requested_at: datetime | None = None

    def to_json(self) -> dict:
        return {
            "consumer": self.consumer,
            "event_id": str(self.event_id),
            "source": self.source,
            "position": self.position,
            "event_type": self.event_type,
            "error": self.error,
            "set_aside_at": self.set_aside_at.isoformat(),
            "tries": self.tries,
            "dismissed_at": self.dismissed_at.isoformat() if self.dismissed_at else None,
        }


def record(
    conn: Connection, consumer: str, source: str, event: RecordedEvent, error: str, tries: int
) -> None:
    """Set ``event`` aside for ``consumer`` (again, if a retry failed: the newest error)."""
    conn.execute(
        set_aside.delete().where(
            set_aside.c.consumer == consumer, set_aside.c.event_id == event.event_id
        )
    )
    conn.execute(
        set_aside.insert().values(
            consumer=consumer,
            event_id=event.event_id,
            source=source,
            position=event.position or 0,
            event_type=event.type,
            error=error[:ERROR_LENGTH],
            set_aside_at=datetime.now(UTC),
            tries=tries,
        )
    )


def listed(
    conn: Connection,
    consumer: str | None = None,
    *,
    dismissed: bool = False,
    requested: bool = False,
) -> list[SetAside]:
    """The events set aside (of ``consumer``), oldest first; dismissed ones only if asked;
    with ``requested``, only those an operator asked to retry."""
    query = sa.select(set_aside).order_by(set_aside.c.set_aside_at, set_aside.c.position)
    if consumer is not None:
        query = query.where(set_aside.c.consumer == consumer)
    if not dismissed:
        query = query.where(set_aside.c.dismissed_at.is_(None))
    if requested:
        query = query.where(set_aside.c.retry_requested_at.is_not(None))
    return [SetAside(**row) for row in conn.execute(query).mappings()]


def counts(conn: Connection) -> dict[str, int]:
    """Events set aside and not dismissed, by consumer: one cheap query for /healthz."""
    query = (
        sa.select(set_aside.c.consumer, sa.func.count())
        .where(set_aside.c.dismissed_at.is_(None))
        .group_by(set_aside.c.consumer)
    )
    return {consumer: n for consumer, n in conn.execute(query)}


def request_retry(conn: Connection, consumer: str, event_id: uuid.UUID | None = None) -> int:
    """Ask for ``consumer``'s set-aside events (or one) to be applied again; how many."""
    query = set_aside.update().where(
        set_aside.c.consumer == consumer, set_aside.c.dismissed_at.is_(None)
    )
    if event_id is not None:
        query = query.where(set_aside.c.event_id == event_id)
    return conn.execute(query.values(retry_requested_at=datetime.now(UTC))).rowcount


def failed_again(conn: Connection, consumer: str, event_id: uuid.UUID, error: str) -> None:
    """A retry failed: the event stays set aside with the new error."""
    conn.execute(
        set_aside.update()
        .where(set_aside.c.consumer == consumer, set_aside.c.event_id == event_id)
        .values(
            error=error[:ERROR_LENGTH],
            tries=set_aside.c.tries + 1,
            retry_requested_at=None,
            set_aside_at=datetime.now(UTC),
        )
    )


def cleared(conn: Connection, consumer: str, event_id: uuid.UUID) -> None:
    """The event applied after all: it is no longer set aside."""
    conn.execute(
        set_aside.delete().where(set_aside.c.consumer == consumer, set_aside.c.event_id == event_id)
    )


def dismiss(conn: Connection, consumer: str, event_id: uuid.UUID) -> bool:
    """An operator decided the event will never apply; kept for the record, not counted."""
    return bool(
        conn.execute(
            set_aside.update()
            .where(
                set_aside.c.consumer == consumer,
                set_aside.c.event_id == event_id,
                set_aside.c.dismissed_at.is_(None),
            )
            .values(dismissed_at=datetime.now(UTC))
        ).rowcount
    )
