"""The watch's memory of the persons it evaluated lately: their dispensations as the rules
take them, so a person touched by batch after batch is not read back from the database and
rebuilt each time.

The database rows stay the truth. This memory is trusted only while it mirrors the rows at
the checkpoint it was left at: a batch opens it at the checkpoint it starts from, and if that
is not where the last batch closed it (a batch rolled back, another replica led for a while,
the read model was rebuilt) it starts empty. It holds at most ``limit`` dispensations and
lets the persons least recently evaluated go first.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterable

from services.alerts.medications import Medication

LIMIT = 1_000_000  # dispensations: about 300 MB (drugs, parties and numbers are shared)


class HeldMedications:
    def __init__(self, limit: int = LIMIT):
        self.limit = limit
        self._persons: OrderedDict[uuid.UUID, list[Medication]] = OrderedDict()
        self._count = 0
        self._at: int | None = None  # the checkpoint it mirrors; None while a batch runs

    def open(self, checkpoint: int) -> None:
        """A batch starts from ``checkpoint``: forget everything unless it mirrors it."""
        if checkpoint != self._at:
            self.clear()
        self._at = None

    def close(self, checkpoint: int) -> None:
        """The batch's changes are all applied; it now mirrors ``checkpoint``."""
        self._at = checkpoint

    def clear(self) -> None:
        self._persons.clear()
        self._count = 0
        self._at = None

    def get(self, person: uuid.UUID) -> list[Medication] | None:
        held = self._persons.get(person)
        if held is not None:
            self._persons.move_to_end(person)
        return held

    def put(self, person: uuid.UUID, medications: list[Medication]) -> None:
        self.forget([person])
        self._persons[person] = medications
        self._count += len(medications)
        while self._count > self.limit and len(self._persons) > 1:
            _, gone = self._persons.popitem(last=False)
            self._count -= len(gone)

    def add(self, person: uuid.UUID, medication: Medication) -> None:
        """A new dispensation of ``person``; nothing to do if the person is not held."""
        held = self._persons.get(person)
        if held is not None:
            held.append(medication)
            self._count += 1

    def forget(self, persons: Iterable[uuid.UUID]) -> None:
        """Their dispensations changed in ways cheaper to read back than to mirror."""
        for person in persons:
            gone = self._persons.pop(person, None)
            if gone is not None:
                self._count -= len(gone)
