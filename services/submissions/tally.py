"""What the submissions store says is recorded, for ``pmp check``: every dispensation
recorded and not voided, and any recorded twice.

Read from the events themselves, not from the intake's own tables, because the events are
what every read model is built from. A dispensation recorded twice is either one id in two
``DispensationsRecorded`` records (a batch appended again) or one key (pharmacy,
prescription number, refill number, date filled) under two ids (a file run again after its
keys were lost: issue 23's doubled records). The store only grows, so ``read_more`` goes on
from where the last look stopped; ids are kept as 128-bit integers and keys as 64-bit
digests, about 150 MB for a million dispensations.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from pmp.eventstore import EventStore
from services.submissions.asap import pharmacy_key
from services.submissions.reading import key_text

PAGE = 20  # events per read: a DispensationsRecorded event holds up to 1,000 records


@dataclass
class Doubled:
    """One dispensation recorded twice: by the same id, or by its key under two ids."""

    what: str  # "id" or "key"
    key: str
    first: str  # dispensation ids
    second: str

    def __str__(self) -> str:
        if self.what == "id":
            return f"dispensation {self.first} recorded twice"
        return f"key {self.key} recorded twice, as {self.first} and {self.second}"


@dataclass
class Recorded:
    """The store's dispensations up to position ``after``."""

    after: int = 0
    live: set[int] = field(default_factory=set)  # recorded, not voided
    voided: set[int] = field(default_factory=set)
    doubled: list[Doubled] = field(default_factory=list)
    _keys: dict[int, int] = field(default_factory=dict)  # key digest -> dispensation id

    def read_more(self, store: EventStore) -> None:
        """Take in the events after ``after``."""
        while events := store.read_all(self.after, PAGE):
            for event in events:
                if event.type == "DispensationsRecorded":
                    for record in event.data["records"]:
                        self._recorded(record)
                elif event.type == "DispensationVoided":
                    voided = uuid.UUID(event.data["dispensation_id"]).int
                    self.live.discard(voided)
                    self.voided.add(voided)
            self.after = events[-1].position

    def _recorded(self, record: dict[str, Any]) -> None:
        number = uuid.UUID(record["dispensation_id"]).int
        key = record_key(record)
        digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest())
        if number in self.live or number in self.voided:
            self.doubled.append(Doubled("id", key, record["dispensation_id"], ""))
        elif (earlier := self._keys.get(digest)) is not None:
            first, second = str(uuid.UUID(int=earlier)), str(uuid.UUID(int=number))
            self.doubled.append(Doubled("key", key, first, second))
        self._keys.setdefault(digest, number)
        self.live.add(number)


def record_key(record: dict[str, Any]) -> str:
    """The key the intake gave the record (``reading.key_text``), from the event's data."""
    dispensation = record["dispensation"]
    return key_text(
        (
            *pharmacy_key(record["pharmacy"]),
            dispensation["prescription_number"],
            dispensation["refill_number"],
            dispensation["date_filled"],
        )
    )
