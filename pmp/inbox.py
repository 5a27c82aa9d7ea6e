"""Exactly-once effects from at-least-once delivery.

A consumer records the id of every event it has handled in the same transaction as the
effect; a redelivered event finds its id already there and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.db import Database, UtcDateTime

metadata = sa.MetaData()

processed_events = sa.Table(
    "processed_events",
    metadata,
    sa.Column("consumer", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("processed_at", UtcDateTime(), nullable=False),
)


class Inbox:
    """The processed-event ids of the consumers that live in ``db``."""

    def __init__(self, db: Database):
        self.db = db

    def create_tables(self) -> None:
        self.db.create(metadata)

    def handle_once(
        self, consumer: str, event_id: uuid.UUID, effect: Callable[[Connection], None]
    ) -> bool:
        """Run ``effect`` unless ``consumer`` already handled ``event_id``; True if it ran."""
        duplicate = False
        try:
            with self.db.write() as conn:
                seen = conn.scalar(
                    sa.select(sa.func.count()).where(
                        processed_events.c.consumer == consumer,
                        processed_events.c.event_id == event_id,
                    )
                )
                if seen:
                    return False
                duplicate = True  # until the insert succeeds, an IntegrityError is a twin's
                conn.execute(
                    processed_events.insert().values(
                        consumer=consumer, event_id=event_id, processed_at=datetime.now(UTC)
                    )
                )
                duplicate = False
                effect(conn)
                return True
        except sa.exc.IntegrityError:
            if duplicate:  # a concurrent delivery of the same event committed first
                return False
            raise
