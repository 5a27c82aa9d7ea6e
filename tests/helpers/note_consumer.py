"""A nameko service consuming the notes service's events, with an idempotent effect.

Run with ``nameko run tests.helpers.note_consumer``; it counts every delivery, and records
each note's effect through the inbox, in the same transaction as the processed id.
"""

from __future__ import annotations

from nameko.events import event_handler

from pmp.envelope import RecordedEvent
from pmp.registry import EventRegistry
from pmp.service import EventSourcedService, ServiceKernel
from tests.helpers.notes import SERVICE, deliveries, effects


class NoteConsumer(EventSourcedService):
    name = "note_consumer"
    kernel = ServiceKernel(EventRegistry())

    @event_handler(SERVICE, "NoteWritten")
    def on_note(self, body: dict) -> None:
        event = RecordedEvent.from_json(body)
        with self.kernel.db.write() as conn:
            conn.execute(deliveries.insert().values(event_id=event.event_id))
        self.kernel.inbox.handle_once(
            self.name,
            event.event_id,
            lambda conn: conn.execute(
                effects.insert().values(event_id=event.event_id, position=event.position)
            ),
        )
