"""nameko integration: the kernel every service declares, and the RPCs every service answers.

``ServiceKernel`` is a dependency provider. At start-up it opens the service's database and
event store, starts the relay and the service's projectors (each only on the replica that
leads it), and gives every worker a ``Kernel``: the store, plus an ``append`` that stamps
who, when and which request on each event. Every worker's log lines carry the correlation
id of the request or event that started it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from nameko.extensions import DependencyProvider

from pmp import checkpoints, diagnostics, setaside
from pmp.broker import EventPublisher
from pmp.config import Settings, load_settings
from pmp.db import Database, open_database
from pmp.envelope import EventBatch, Metadata, NewEvent
from pmp.eventstore import EventStore
from pmp.inbox import Inbox
from pmp.leader import Trouble
from pmp.logs import bind_correlation, configure_logging, get_logger
from pmp.projector import EventSource, Projection, Projector
from pmp.reactions import Reaction, Reactor
from pmp.registry import EventRegistry
from pmp.relay import Relay
from pmp.relayed import RelayedEvents
from pmp.rpc import rpc
from pmp.sources import ClusterProxy, RpcSource, StoreSource
from pmp.wakeups import listen_for_wakeups

log = get_logger(__name__)

Clock = Callable[[], datetime]
CONCURRENT_READS = 3  # read_events answered at once by one process (a pool holds 10)


def system_clock() -> datetime:
    return datetime.now(UTC)


class Kernel:
    """What a worker sees of the kernel: its service's store, inbox and a stamped append."""

    def __init__(self, provider: ServiceKernel, context_data: dict[str, Any]):
        self._provider = provider
        self._context = context_data
        self.store: EventStore = provider.store
        self.inbox: Inbox = provider.inbox
        self.db: Database = provider.db
        self.settings: Settings = provider.settings
        self.clock: Clock = provider.clock
        self.consumers = provider.consumers
        self.readers = provider.readers

    @property
    def actor_id(self) -> str | None:
        """The signed-in account the gateway is acting for, if any."""
        return self._context.get("actor_id")

    @property
    def actor_role(self) -> str | None:
        return self._context.get("actor_role")

    @property
    def actor_name(self) -> str:
        """The signed-in person's name, as documents and events about their requests show it."""
        return self._context.get("actor_name") or ""

    @property
    def actor_permissions(self) -> frozenset[str] | None:
        """What identity granted this signed-in account now (its role, less what a due
        renewal withholds); None when the call did not come through the gateway."""
        granted = self._context.get("actor_permissions")
        return None if granted is None else frozenset(granted)

    def metadata(self) -> Metadata:
        return Metadata(
            occurred_at=self.clock(),
            actor_id=self._context.get("actor_id"),
            actor_role=self._context.get("actor_role"),
            correlation_id=self._context.get("correlation_id"),
            causation_id=self._context.get("causation_id"),
        )

    def append(
        self, stream: str, expected_version: int | None, changes: Sequence[tuple[str, dict]]
    ) -> int:
        """Append ``(type, data)`` changes to ``stream``; the relay is woken to publish them."""
        metadata = self.metadata()
        version = self.store.append(
            stream, expected_version, [NewEvent(kind, data, metadata) for kind, data in changes]
        )
        self._provider.events_appended(frozenset(kind for kind, _ in changes))
        return version

    def events_appended(self) -> None:
        """Wake the relay after a caller committed events of its own transaction
        (``EventStore.append_in``)."""
        self._provider.events_appended()


class CorrelatedWorkers(DependencyProvider):
    """Every log line a worker writes carries the correlation id of what started it."""

    def worker_setup(self, worker_ctx) -> None:
        bind_correlation(
            worker_ctx.context_data.get("correlation_id"),
            entrypoint=worker_ctx.entrypoint.method_name,
        )

    def worker_teardown(self, worker_ctx) -> None:
        bind_correlation(None)


class AppendedSince:
    """Told of each batch a projection that may append events committed: calls
    ``events_appended`` (which wakes the relay and this store's readers) if an event was
    appended since that projection's previous batch. The misuse watch appends for few
    searches; waking for every one cost each lookup a relay read and a trail read of the
    audit store that found nothing."""

    def __init__(self, store: EventStore, events_appended: Callable[[], None]):
        self.store = store
        self.events_appended = events_appended
        self.seen = store.appends_in

    def __call__(self) -> None:
        if self.store.appends_in != self.seen:
            self.seen = self.store.appends_in
            self.events_appended()


class ServiceKernel(CorrelatedWorkers):
    """Database, event store, relay and projectors of one service."""

    def __init__(
        self,
        registry: EventRegistry,
        projections: Sequence[type[Projection]] = (),
        clock: Clock = system_clock,
        tables: Sequence[sa.MetaData] = (),
        reactions: Sequence[type[Reaction]] = (),
    ):
        self.registry = EventRegistry()
        self.registry.include(diagnostics.kernel_events())
        self.registry.include(registry)
        self.projection_types = tuple(projections)
        self.clock = clock
        self.tables = tuple(tables)  # the service's own operational tables (not read models)
        self.reaction_types = tuple(reactions)

    def setup(self) -> None:
        self.service = self.container.service_name
        self.settings = load_settings()
        configure_logging(self.service, self.settings.log_level)
        self.db = open_database(self.settings, self.service)
        self.store = EventStore(self.db, self.registry)
        self.store.create_tables()
        self.inbox = Inbox(self.db)
        self.inbox.create_tables()
        for metadata in self.tables:
            self.db.create(metadata)
        self.relay = Relay(
            self.store,
            EventPublisher(self.settings.amqp_uri, self.service),
            batch_size=self.settings.relay_batch_size,
            max_bytes=self.settings.read_bytes,
        )
        self.relay.create_tables()
        self.stopping = threading.Event()
        # Catch-up reads by other services wait here rather than in the connection pool,
        # which they could otherwise fill: the relay and projectors of this service (and its
        # commands, e.g. a long intake) always find a connection.
        self.readers = threading.BoundedSemaphore(CONCURRENT_READS)
        self.wake_relay = threading.Event()
        # Per other service, the events its relay just published, for every projection here
        self.relayed: dict[str, RelayedEvents] = {}
        self.projections = [self._running(p()) for p in self.projection_types]
        for running in self.projections:
            running.projector.create_tables()
        self.wake_reactions = threading.Event()
        self.reactors = [
            Reactor(self.db, self.store, reaction(self.settings, self.store))
            for reaction in self.reaction_types
        ]
        for reactor in self.reactors:
            reactor.create_tables()

    def _running(self, projection: Projection) -> _RunningProjection:
        proxy = ClusterProxy(self.settings.amqp_uri, self.settings.rpc_timeout)
        budget = self.settings.read_bytes
        sources: dict[str, EventSource] = {
            source: StoreSource(self.store, projection.own_streams, max_bytes=budget)
            if source == self.service
            else RpcSource(
                source,
                proxy,
                max_bytes=budget,
                relayed=self.relayed.setdefault(source, RelayedEvents()),
            )
            for source in projection.sources
        }
        projector = Projector(
            self.db,
            projection,
            sources,
            self.settings.relay_batch_size,
            after_batch=AppendedSince(self.store, self.events_appended)
            if projection.emits_events
            else None,
        )
        remote = tuple(s for s in projection.sources if s != self.service)
        return _RunningProjection(projector, threading.Event(), proxy, remote)

    def start(self) -> None:
        poll = self.settings.poll_interval
        self.container.spawn_managed_thread(
            lambda: self.relay.run(self.stopping, self.wake_relay, poll), identifier="relay"
        )
        for reactor in self.reactors:
            self.container.spawn_managed_thread(
                lambda r=reactor: r.run(self.stopping, self.wake_reactions, poll),
                identifier=f"reaction {reactor.name}",
            )
        for running in self.projections:
            name = running.projector.name
            self.container.spawn_managed_thread(
                lambda r=running: self._project(r, poll), identifier=f"projector {name}"
            )
            if running.remote_sources:
                self.container.spawn_managed_thread(
                    lambda r=running: listen_for_wakeups(
                        self.settings.amqp_uri,
                        self.service,
                        r.remote_sources,
                        lambda source, r=r: self._wake(r, source),
                        self.stopping,
                        poll,
                        types=r.projector.projection.types,
                        on_event=self._relayed_event,
                    ),
                    identifier=f"wake-ups {name}",
                )

    def _project(self, running: _RunningProjection, poll: float) -> None:
        """Keep one read model current; its RPC client is closed by this thread, the one
        that reads through it (closing it from another while a read waits breaks eventlet)."""
        try:
            running.projector.run(self.stopping, running.wake, poll)
        finally:
            running.proxy.close()

    def _relayed_event(self, source: str, body: bytes) -> None:
        if source in self.relayed:
            self.relayed[source].offer(body)

    @staticmethod
    def _wake(
        running: _RunningProjection, source: str, types: frozenset[str] | None = None
    ) -> None:
        if running.projector.wake_for(source, types):
            running.wake.set()

    def events_appended(self, types: frozenset[str] | None = None) -> None:
        """Wake the relay and the projections that read this service's own store and may
        apply events of ``types`` (None: of any type)."""
        self.wake_relay.set()
        self.wake_reactions.set()
        for running in self.projections:
            if self.service in running.projector.projection.sources:
                self._wake(running, self.service, types)

    def stop(self) -> None:
        self.stopping.set()
        self.wake_relay.set()
        self.wake_reactions.set()
        for running in self.projections:
            running.wake.set()
        self.relay.publisher.close()

    def kill(self) -> None:
        self.stop()

    def consumers(self) -> list[dict[str, Any]]:
        """Each projection and reaction of this replica (and its relay) as operators see it:
        whether it leads here, its lag (None where another replica leads), checkpoints and
        set-aside events. Two small queries: /healthz asks often."""
        now = datetime.now(UTC)
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(checkpoints.checkpoints.c.name, checkpoints.checkpoints.c.position)
            )
            positions = {name: position for name, position in rows}
            counts = setaside.counts(conn)
        found: list[dict[str, Any]] = []
        for running in self.projections:
            projector = running.projector
            found.append(
                _consumer(
                    projector.name,
                    "projection",
                    projector.leads,
                    projector.lag_seconds(now),
                    {s: positions.get(projector.checkpoint_name(s), 0) for s in projector.sources},
                    counts.get(projector.name, 0),
                    projector.trouble,
                )
            )
        for reactor in self.reactors:
            found.append(
                _consumer(
                    reactor.name,
                    "reaction",
                    reactor.leads,
                    reactor.lag_seconds(now),
                    {reactor.source: positions.get(reactor.name, 0)},
                    counts.get(reactor.name, 0),
                    reactor.trouble,
                )
            )
        relay = self.relay
        found.append(
            _consumer(
                f"{self.service}.relay",
                "relay",
                relay.leads,
                relay.lag_seconds(now),
                {self.service: positions.get(Relay.checkpoint, 0)},
                0,
                relay.trouble,
            )
        )
        return found

    def get_dependency(self, worker_ctx) -> Kernel:
        return Kernel(self, worker_ctx.context_data)


def _consumer(
    name: str,
    kind: str,
    leads: bool,
    lag: float,
    positions: dict[str, int],
    set_aside: int,
    trouble: Trouble,
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "leads": leads,
        "lag_seconds": round(lag, 1) if leads else None,
        "positions": positions,
        "set_aside": set_aside,
        "error": trouble.error,
        "failing_since": trouble.since.isoformat() if trouble.since else None,
    }


@dataclass
class _RunningProjection:
    projector: Projector
    wake: threading.Event
    proxy: ClusterProxy
    remote_sources: tuple[str, ...]


class EventSourcedService:
    """The RPCs every service answers. Subclasses set ``name`` and ``kernel``."""

    name: str
    kernel: Kernel

    @rpc
    def ping(self) -> dict:
        """Liveness for /healthz: the service answers and its database is reachable; and
        each of its projections and reactions: lag, checkpoints, events set aside."""
        return {
            "service": self.name,
            "status": "ok",
            "database": self.kernel.db.dialect,
            "head_position": self.kernel.store.head_position(),
            "consumers": self.kernel.consumers(),
        }

    @rpc
    def record_probe(self, probe_id: str) -> dict:
        """Record a ``ProbeRecorded`` event, to prove store, relay and broker end to end."""
        version = self.kernel.append(
            diagnostics.probe_stream(probe_id),
            EventStore.ANY,
            [(diagnostics.PROBE_RECORDED, {"probe_id": probe_id, "service": self.name})],
        )
        log.info("probe recorded", probe_id=probe_id)
        return {"service": self.name, "probe_id": probe_id, "version": version}

    @rpc
    def read_events(
        self, after_position: int = 0, limit: int = 500, max_bytes: int | None = None
    ) -> list[dict]:
        """Events after ``after_position`` in order: catch-up for projectors and the audit.

        Whole events up to ``max_bytes`` of data (at least one), never more than this
        service's own ``PMP_READ_BYTES``: a reply is a few megabytes however large the events
        (a bulk intake's are about 1 MB each), so it is quick to send and far below the
        broker's message limit."""
        return [e.to_json() for e in self._read(after_position, limit, max_bytes)]

    @rpc
    def read_batch(
        self, after_position: int = 0, limit: int = 500, max_bytes: int | None = None
    ) -> dict[str, Any]:
        """``read_events``, and whether more may follow: ``{"events": [...], "more": bool}``.
        A reader told there is no more need not ask again to find nothing."""
        found = self._read(after_position, limit, max_bytes)
        return {"events": [e.to_json() for e in found], "more": found.more}

    def _read(self, after_position: Any, limit: Any, max_bytes: Any) -> EventBatch:
        limit = max(1, min(int(limit), 5000))
        budget = self.kernel.settings.read_bytes
        if max_bytes is not None:
            budget = max(1, min(int(max_bytes), budget))
        with self.kernel.readers:
            return self.kernel.store.read_all(int(after_position), limit, max_bytes=budget)
