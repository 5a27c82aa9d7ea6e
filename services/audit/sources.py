"""The audit trail against each service's own event store (``pmp audit verify --sources``).

The chain proves the trail was not changed after it was written; it says nothing of the
services' stores, which projections and replays read. So each event in a service's store,
up to the last position the trail has chained from it, must be in the trail at the same
position with the same bytes (``chain.canonical``), and every entry of the trail must still
be in its source. Events the trail has not chained yet are counted, not judged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.envelope import RecordedEvent
from pmp.eventstore import EventStore
from services.audit import trail
from services.audit.chain import canonical

PAGE = 2_000


@dataclass(frozen=True)
class Finding:
    """One event whose store and trail disagree."""

    source: str
    position: int
    event_id: str
    event_type: str
    entry: int | None  # the trail's entry, if it has one
    problem: str

    def __str__(self) -> str:
        where = f"entry {self.entry}" if self.entry is not None else "no entry"
        return (
            f"{self.source} position {self.position}, event {self.event_id} "
            f"({self.event_type}), trail {where}: {self.problem}"
        )


@dataclass(frozen=True)
class Comparison:
    source: str
    compared: int
    not_chained_yet: int
    findings: list[Finding]


def compare(audit: Connection, source: str, store: EventStore) -> Comparison:
    """``source``'s store against the trail's entries from it, position by position."""
    chained = trail.last_position(audit, source)
    findings: list[Finding] = []
    compared = 0
    events = _events(store, chained)
    event = next(events, None)
    for entry in _entries(audit, source):
        while event is not None and event.position < entry.source_position:
            findings.append(_finding(source, event, None, "is in the store but not in the trail"))
            event = next(events, None)
        if event is None or event.position != entry.source_position:
            findings.append(
                Finding(
                    source,
                    entry.source_position,
                    str(entry.event_id),
                    entry.event_type,
                    entry.n,
                    "is in the trail but missing from the store",
                )  # fmt: skip
            )
            continue
        compared += 1
        if _digest(canonical(source, event)) != _digest(entry.body.encode()):
            problem = (
                "a different event is at this position in the store"
                if str(event.event_id) != str(entry.event_id)
                else "the store's event differs from the trail's copy"
            )
            findings.append(_finding(source, event, entry.n, problem))
        event = next(events, None)
    while event is not None:  # chained positions the trail does not have (it cannot: verify)
        findings.append(_finding(source, event, None, "is in the store but not in the trail"))
        event = next(events, None)
    pending = max(0, store.head_position() - chained)
    return Comparison(source, compared, pending, findings)


def _finding(source: str, event: RecordedEvent, entry: int | None, problem: str) -> Finding:
    return Finding(source, event.position or 0, str(event.event_id), event.type, entry, problem)


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _events(store: EventStore, up_to: int) -> Iterator[RecordedEvent]:
    after = 0
    while after < up_to:
        page = [e for e in store.read_all(after, PAGE) if (e.position or 0) <= up_to]
        if not page:
            return
        yield from page
        after = page[-1].position or up_to


def _entries(audit: Connection, source: str) -> Iterator[sa.Row]:
    e = trail.entries
    after = 0
    while True:
        rows = audit.execute(
            sa.select(e.c.n, e.c.source_position, e.c.event_id, e.c.event_type, e.c.body)
            .where(e.c.source == source, e.c.source_position > after)
            .order_by(e.c.source_position)
            .limit(PAGE)
        ).all()
        yield from rows
        if len(rows) < PAGE:
            return
        after = rows[-1].source_position
