"""The event envelope every service writes and every consumer reads.

A domain function returns ``NewEvent``s; the event store stamps stream, version, position
and schema version on them and hands back ``RecordedEvent``s. Both are plain values, so
domain code and its tests need no database and no broker.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EVENT_TYPE = re.compile(r"^[A-Z][A-Za-z0-9]+$")


@dataclass(frozen=True)
class Metadata:
    """Who caused an event, when, and as part of which request."""

    occurred_at: datetime
    actor_id: str | None = None
    actor_role: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat(),
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Metadata:
        return cls(**{**data, "occurred_at": datetime.fromisoformat(data["occurred_at"])})


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): new ids land at the end of the index."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (
        (millis & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | ((rand >> 62) & 0xFFF) << 64
        | 0b10 << 62
        | (rand & ((1 << 62) - 1))
    )
    return uuid.UUID(int=value)


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended. ``event_id`` makes a retried append a no-op."""

    type: str
    data: dict[str, Any]
    metadata: Metadata
    event_id: uuid.UUID = field(default_factory=uuid7)

    def __post_init__(self) -> None:
        if not EVENT_TYPE.match(self.type):
            raise ValueError(f"event type {self.type!r} must be PascalCase, e.g. PasswordChanged")
        if self.metadata.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware (times are stored in UTC)")


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored: ``position`` orders it among all events of its store.

    ``position`` is None only for an event read by stream before a reader stamped it.
    """

    event_id: uuid.UUID
    stream: str
    version: int
    position: int | None
    type: str
    data: dict[str, Any]
    schema_version: int
    metadata: Metadata

    def to_json(self) -> dict[str, Any]:
        """The message body the relay publishes and RPC readers return."""
        return {
            "event_id": str(self.event_id),
            "stream": self.stream,
            "version": self.version,
            "position": self.position,
            "type": self.type,
            "data": self.data,
            "schema_version": self.schema_version,
            "metadata": self.metadata.to_json(),
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> RecordedEvent:
        return cls(
            event_id=uuid.UUID(body["event_id"]),
            stream=body["stream"],
            version=body["version"],
            position=body["position"],
            type=body["type"],
            data=body["data"],
            schema_version=body["schema_version"],
            metadata=Metadata.from_json(body["metadata"]),
        )


class EventBatch(list[RecordedEvent]):
    """Events read in position order, and whether more may follow them: a read cut short
    by its limit or its byte budget (``more``) is read on at once, one that reached the
    store's head need not be followed by a read that finds nothing."""

    def __init__(self, events: Iterable[RecordedEvent] = (), more: bool = True):
        super().__init__(events)
        self.more = more
