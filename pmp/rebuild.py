"""``pmp projections list|rebuild``: operators' view of the read models.

A rebuild empties the read model and its checkpoints in one transaction, then replays from
position 0. If a service replica is running that projection, it does the replay and this
command follows its progress; otherwise this command replays it itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from rich.console import Console

from pmp.config import load_settings
from pmp.db import Database, open_database
from pmp.eventstore import EventStore
from pmp.leader import Leadership
from pmp.projector import NotRebuildable, Projection, Projector
from pmp.sources import ClusterProxy, RpcSource, SourceUnavailable, StoreSource
from pmp.topology import SERVICES, spec_of

console = Console(stderr=True)


@dataclass
class Found:
    service: str
    projection: type[Projection]


def all_projections() -> Iterator[Found]:
    """Every projection the services run: what each service's kernel was given, the one
    list there is (``pmp projections set-aside`` reads the same)."""
    for spec in SERVICES:
        for projection in spec.load().kernel.projection_types:
            yield Found(spec.name, projection)


def list_projections() -> int:
    settings = load_settings()
    for found in all_projections():
        db = open_database(settings, found.service, pool_size=1)
        projector = Projector(db, found.projection(), _sources(found, db), batch_size=1)
        projector.create_tables()
        positions = ", ".join(f"{s} {p}" for s, p in projector.positions().items())
        print(f"{found.projection.name}  (at: {positions})")
        db.dispose()
    return 0


def rebuild_projection(name: str) -> int:
    matches = [f for f in all_projections() if f.projection.name == name]
    if not matches:
        names = ", ".join(f.projection.name for f in all_projections())
        console.print(f"pmp projections rebuild: no projection {name!r}; there are: {names}")
        return 2
    found = matches[0]
    settings = load_settings()
    db = open_database(settings, found.service, pool_size=2)
    sources = _sources(found, db)
    projector = Projector(db, found.projection(), sources, settings.relay_batch_size)
    projector.create_tables()
    try:
        projector.reset()
    except NotRebuildable as exc:
        console.print(f"pmp projections rebuild: {name} is not rebuilt: {exc}", soft_wrap=True)
        _close(sources)
        db.dispose()
        return 2
    console.print(f"{name}: read model emptied, checkpoints reset to 0")
    leadership = Leadership(db, f"projector:{name}")
    started = time.monotonic()
    try:
        if leadership.try_acquire():
            try:
                with console.status(f"replaying {name}") as status:
                    total = projector.catch_up(
                        lambda n: status.update(f"replaying {name}: {n} events")
                    )
            except SourceUnavailable as exc:
                console.print(
                    f"{name}: {exc}. It reads other services' events through them: start "
                    f"them (pmp up); the {found.service} service replays it as it starts.",
                    soft_wrap=True,
                )
                return 1
            console.print(f"{name}: replayed {total} events in {time.monotonic() - started:.1f} s")
        else:
            console.print(f"{name}: a running {found.service} service is replaying it")
            _follow(projector, sources)
            console.print(f"{name}: caught up in {time.monotonic() - started:.1f} s")
    finally:
        leadership.release()
        _close(sources)
        db.dispose()
    return 0


def _follow(projector: Projector, sources: dict[str, StoreSource | RpcSource]) -> None:
    """Wait until the active replica's checkpoints reach every source's head."""
    heads = {name: source.head() for name, source in sources.items()}
    with console.status("waiting") as status:
        while True:
            positions = projector.positions()
            behind = {s: heads[s] - positions[s] for s in heads if positions[s] < heads[s]}
            if not behind:
                return
            status.update(f"events still to replay: {sum(behind.values())}")
            time.sleep(0.5)


def _sources(found: Found, db: Database) -> dict[str, StoreSource | RpcSource]:
    settings = load_settings()
    proxy = ClusterProxy(settings.amqp_uri, timeout=30)
    sources: dict[str, StoreSource | RpcSource] = {}
    for source in found.projection.sources:
        if source == found.service:
            registry = spec_of(found.service).load().kernel.registry
            sources[source] = StoreSource(EventStore(db, registry), found.projection.own_streams)
        else:
            sources[source] = RpcSource(source, proxy)
    return sources


def _close(sources: dict[str, StoreSource | RpcSource]) -> None:
    for source in sources.values():
        if isinstance(source, RpcSource):
            source.proxy.close()
