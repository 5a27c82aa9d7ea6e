"""``pmp projections set-aside|retry|dismiss``: operators' hands on set-aside events.

Listing reads each service's database. A retry is a request recorded on the set-aside
events; the replica that leads the projection or reaction applies them between its
batches, where its in-memory state (the alerts watch's memory of persons) stays true and
what the retry appends wakes its relay, and this command waits for the outcome. When no
running replica leads it, this command takes the lead and applies them itself, as
``pmp projections rebuild`` replays.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from pmp import setaside
from pmp.config import Settings, load_settings
from pmp.db import Database, open_database
from pmp.eventstore import EventStore
from pmp.leader import Leadership
from pmp.projector import Projection, Projector
from pmp.reactions import Reaction, Reactor
from pmp.rebuild import Found, _close, _sources
from pmp.sources import SourceUnavailable
from pmp.topology import SERVICES

WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Consumer:
    """A projection or reaction and the service whose database keeps its set-aside events."""

    service: str
    name: str
    projection: type[Projection] | None = None
    reaction: type[Reaction] | None = None

    @property
    def lock(self) -> str:
        return f"projector:{self.name}" if self.projection else f"reaction:{self.name}"


def consumers() -> Iterator[Consumer]:
    """Every projection and reaction the services run, from their kernels."""
    for spec in SERVICES:
        kernel = spec.load().kernel
        for projection in kernel.projection_types:
            yield Consumer(spec.name, projection.name, projection=projection)
        for reaction in kernel.reaction_types:
            yield Consumer(spec.name, reaction.name, reaction=reaction)


def _open(settings: Settings, service: str) -> Database:
    db = open_database(settings, service, pool_size=2)
    db.create(setaside.metadata)
    return db


def list_set_aside(show_dismissed: bool = False) -> int:
    settings = load_settings()
    found = 0
    for service in dict.fromkeys(c.service for c in consumers()):
        db = _open(settings, service)
        try:
            with db.read() as conn:
                entries = setaside.listed(conn, dismissed=show_dismissed)
        finally:
            db.dispose()
        for e in entries:
            found += 1
            dismissed = f", dismissed {e.dismissed_at:%Y-%m-%d %H:%M:%S}Z" if e.dismissed_at else ""
            print(
                f"{e.consumer}  {e.source} position {e.position}  event {e.event_id}  "
                f"{e.event_type}  set aside {e.set_aside_at:%Y-%m-%d %H:%M:%S}Z  "
                f"tries {e.tries}{dismissed}\n    {e.error}"
            )
    if not found:
        print("No events are set aside.")
    return 0


def _chosen(name: str | None) -> list[Consumer] | str:
    every = list(consumers())
    if name is None:
        return every
    chosen = [c for c in every if c.name == name]
    return chosen or (
        f"no projection or reaction {name!r}; there are: {', '.join(c.name for c in every)}"
    )


def _event_id(text: str | None) -> uuid.UUID | None | str:
    """The event id given, or why it is not one."""
    if text is None:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return f"--event must be an event id (a UUID), not {text!r}"


def dismiss(name: str, event_id: str) -> int:
    chosen, wanted = _chosen(name), _event_id(event_id)
    if isinstance(chosen, str) or isinstance(wanted, str) or wanted is None:
        print(f"pmp projections dismiss: {chosen if isinstance(chosen, str) else wanted}")
        return 2
    db = _open(load_settings(), chosen[0].service)
    try:
        with db.write() as conn:
            done = setaside.dismiss(conn, name, wanted)
    finally:
        db.dispose()
    print(f"{name}: event {event_id} dismissed" if done else f"{name}: no such event set aside")
    return 0 if done else 1


def retry(name: str | None, event_id: str | None) -> int:
    chosen, wanted = _chosen(name), _event_id(event_id)
    if isinstance(chosen, str) or isinstance(wanted, str):
        print(f"pmp projections retry: {chosen if isinstance(chosen, str) else wanted}")
        return 2
    settings = load_settings()
    failed = tried = 0
    for consumer in chosen:
        db = _open(settings, consumer.service)
        try:
            with db.write() as conn:
                asked = setaside.request_retry(conn, consumer.name, wanted)
            if not asked:
                continue
            tried += asked
            outcome = _carry_out(consumer, db, settings)
            if outcome:
                print(f"{consumer.name}: {outcome}")
                failed += asked
                continue
            with db.read() as conn:
                left = [
                    e
                    for e in setaside.listed(conn, consumer.name)
                    if wanted is None or e.event_id == wanted
                ]
            failed += len(left)
            print(f"{consumer.name}: {asked - len(left)} of {asked} applied")
            for e in left:
                print(f"    still set aside: event {e.event_id} {e.event_type}: {e.error}")
        finally:
            db.dispose()
    if not tried:
        print("Nothing to retry: no such event is set aside.")
        return 1
    return 1 if failed else 0


def _carry_out(consumer: Consumer, db: Database, settings: Settings) -> str | None:
    """Have the requested retries done: by this command if no replica leads the consumer,
    else by the replica that does. None when done; else why not."""
    leadership = Leadership(db, consumer.lock)
    if leadership.try_acquire():
        try:
            return _apply_here(consumer, db, settings)
        finally:
            leadership.release()
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with db.read() as conn:
            if not setaside.listed(conn, consumer.name, requested=True):
                return None
        time.sleep(0.5)
    return f"the running {consumer.service} service has not retried it in {WAIT_SECONDS:g} s"


def _apply_here(consumer: Consumer, db: Database, settings: Settings) -> str | None:
    registry = next(s for s in SERVICES if s.name == consumer.service).load().kernel.registry
    if consumer.reaction is not None:
        store = EventStore(db, registry)
        Reactor(db, store, consumer.reaction(settings, store)).retry_requested()
        return None
    assert consumer.projection is not None
    found = Found(consumer.service, consumer.projection)
    sources = _sources(found, db)
    try:
        Projector(db, consumer.projection(), sources, batch_size=1).retry_requested()
    except SourceUnavailable as exc:
        return f"{exc}; start the services (pmp up) and retry"
    finally:
        _close(sources)
    return None
