"""A tiny event-sourced "notes" service used to test the kernel without any domain."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from marshmallow import Schema, fields
from sqlalchemy.engine import Connection

from pmp.config import Settings
from pmp.db import Database, open_database
from pmp.envelope import Metadata, NewEvent, RecordedEvent
from pmp.eventstore import EventStore
from pmp.projector import Projection
from pmp.registry import EventRegistry

SERVICE = "notes"


class NoteWritten(Schema):
    text = fields.String(required=True)
    writer = fields.Integer(load_default=0)


def registry() -> EventRegistry:
    reg = EventRegistry()
    reg.register("NoteWritten", NoteWritten)
    return reg


def open_notes(settings: Settings) -> EventStore:
    store = EventStore(open_database(settings, SERVICE), registry())
    store.create_tables()
    return store


def write_notes(store: EventStore, count: int, stream: str = "notebook", **meta: str) -> list:
    events = [
        NewEvent("NoteWritten", {"text": f"note {i}"}, Metadata(datetime.now(UTC), **meta))
        for i in range(count)
    ]
    for event in events:
        store.append(stream, EventStore.ANY, [event])
    return [e.event_id for e in events]


# -- what a consumer does with notes: one row per note, plus a count of deliveries -----------

effects_metadata = sa.MetaData()
effects = sa.Table(
    "note_effects",
    effects_metadata,
    sa.Column("event_id", sa.Uuid, nullable=False),  # deliberately not unique: dup = visible
    sa.Column("position", sa.BigInteger, nullable=False),
)
deliveries = sa.Table(
    "note_deliveries",
    effects_metadata,
    sa.Column("event_id", sa.Uuid, nullable=False),
)


def consumer_db(settings: Settings) -> Database:
    db = open_database(settings, "note_consumer")
    db.create(effects_metadata)
    return db


# -- a projection of notes, recording which replica applied each one -------------------------

projection_metadata = sa.MetaData()
note_index = sa.Table(
    "note_index",
    projection_metadata,
    sa.Column("event_id", sa.Uuid, nullable=False),  # not unique, so a double apply shows
    sa.Column("text", sa.String(200), nullable=False),
    sa.Column("applied_by", sa.String(40), nullable=False),
)


class NoteIndex(Projection):
    name = "notes.note_index"
    sources = (SERVICE,)
    metadata = projection_metadata

    def __init__(self, replica: str = "main", fail_on: str | None = None):
        self.replica = replica
        self.fail_on = fail_on

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        if event.data["text"] == self.fail_on:
            raise RuntimeError(f"cannot project {self.fail_on!r}")
        conn.execute(
            note_index.insert().values(
                event_id=event.event_id, text=event.data["text"], applied_by=self.replica
            )
        )


def indexed(db: Database) -> list[tuple]:
    with db.read() as conn:
        return [tuple(r) for r in conn.execute(sa.select(note_index).order_by(note_index.c.text))]
