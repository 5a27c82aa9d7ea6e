"""Event schemas: one marshmallow schema per event type, versioned, with upcasters.

An event store refuses to append an event whose type has no schema or whose data fails it
(deny by default), and upcasts stored events of an older ``schema_version`` on read, so
domain code only ever sees the current shape of an event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class EventValidationError(ValueError):
    """An event was refused at append; ``errors`` maps each bad field to its messages."""

    def __init__(self, event_type: str, errors: Mapping[str, list[str]]):
        self.event_type = event_type
        self.errors = dict(errors)
        super().__init__(f"{event_type} refused: {named(self.errors)}")


def named(errors: Mapping[str, list[str]]) -> str:
    """Each bad field with its messages, as refusals say them: "zip: Give 5 digits.; ..."."""
    return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())


def load_or_refuse(schema: Schema, values: Any, refused: type[Exception]) -> dict[str, Any]:
    """``values`` as ``schema`` loads them, or ``refused`` naming each field that is wrong."""
    try:
        return schema.load(values if isinstance(values, dict) else {})
    except ValidationError as exc:
        raise refused(named(_flatten(exc.messages))) from None


@dataclass(frozen=True)
class EventType:
    name: str
    schema: Schema
    version: int
    upcasters: Mapping[int, Upcaster]


class EventRegistry:
    """The event types one service may append, each with its current schema version."""

    def __init__(self) -> None:
        self._types: dict[str, EventType] = {}

    def register(
        self,
        name: str,
        schema: Schema | type[Schema],
        version: int = 1,
        upcasters: Mapping[int, Upcaster] | None = None,
    ) -> None:
        """Register ``name`` at ``version``; ``upcasters[k]`` turns version k data into k+1."""
        upcasters = dict(upcasters or {})
        missing = [k for k in range(1, version) if k not in upcasters]
        if missing:
            raise ValueError(f"{name} v{version} needs upcasters from versions {missing}")
        if name in self._types:
            raise ValueError(f"event type {name} is registered twice")
        instance = schema() if isinstance(schema, type) else schema
        self._types[name] = EventType(name, instance, version, upcasters)

    def include(self, other: EventRegistry) -> None:
        """Take every type of ``other`` (the kernel's own events, for instance)."""
        for event_type in other._types.values():
            self.register(
                event_type.name, event_type.schema, event_type.version, event_type.upcasters
            )

    def __contains__(self, name: str) -> bool:
        return name in self._types

    def validate(self, name: str, data: Mapping[str, Any]) -> int:
        """Check ``data`` (JSON form) against its schema; return the version it is written at."""
        return self.validate_all([(name, data)])[0]

    def validate_all(self, events: Sequence[tuple[str, Mapping[str, Any]]]) -> list[int]:
        """``validate`` for a batch: one schema pass per event type, not per event."""
        by_type: dict[str, list[Mapping[str, Any]]] = {}
        for name, data in events:
            by_type.setdefault(name, []).append(data)
        for name, batch in by_type.items():
            event_type = self._types.get(name)
            if event_type is None:
                raise EventValidationError(name, {"type": [f"no schema is registered for {name}"]})
            try:
                event_type.schema.load(batch, many=True)
            except ValidationError as exc:
                first_bad = min(exc.messages)  # errors are keyed by place in the batch
                raise EventValidationError(name, _flatten(exc.messages[first_bad])) from None
        return [self._types[name].version for name, _ in events]

    def is_current(self, name: str, version: int) -> bool:
        """Whether data stored at ``version`` needs no upcasting (or has no schema here)."""
        event_type = self._types.get(name)
        return event_type is None or version >= event_type.version

    def upcast(self, name: str, version: int, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Bring stored ``data`` written at ``version`` up to the current schema version."""
        event_type = self._types.get(name)
        if event_type is None:
            return data, version
        while version < event_type.version:
            data = event_type.upcasters[version](data)
            version += 1
        return data, version


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into ``{"address.zip": ["..."]}``."""
    if isinstance(messages, list):
        return {prefix or "_schema": [str(m) for m in messages]}
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat
