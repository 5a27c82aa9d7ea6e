"""(a) single-event commits with 1, 4 and 8 writers; (b) 100-event batches.

Ours: ``pmp.eventstore.EventStore`` on PostgreSQL, with schema validation on append and a
reader tailing by position throughout (guarantee 2 on; the run fails if that reader missed,
repeated or reordered anything). Peer: the ``eventsourcing`` library's
``PostgresApplicationRecorder`` (9.5.6) on the same database, in a schema of its own. Both
append to one aggregate stream per writer, so both check the version on every append.
"""

from __future__ import annotations

import json
import multiprocessing
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from benchmarks.common import (
    DATABASE_URL,
    Result,
    drop_schema,
    libpq_params,
    scratch_schema,
    scratch_store,
)
from pmp.db import open_postgresql
from pmp.envelope import Metadata, NewEvent
from pmp.eventstore import EventStore

TEXT = "x" * 120  # a small event, as most of ours are
Append = Callable[[int, int], list[uuid.UUID]]  # (writer, round) -> ids written


def run_writers(
    writers: int, seconds: float, make_append: Callable[[], Append]
) -> tuple[float, list[uuid.UUID]]:
    """Run ``writers`` processes appending for ``seconds``; return events/s and all ids.

    Writers are processes, as the services that write are: each opens its own connections
    (``make_append`` runs in the child), and no writer waits for another's Python.
    """
    context = multiprocessing.get_context("fork")
    ready = context.Barrier(writers + 1)
    go = context.Event()
    results = context.Queue()
    processes = [
        context.Process(target=_writer, args=(make_append, w, ready, go, results))
        for w in range(writers)
    ]
    for process in processes:
        process.start()
    ready.wait()
    began = time.perf_counter()
    go.set()
    time.sleep(seconds)
    go.clear()
    ids = [i for _ in processes for i in results.get()]
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join()
    return len(ids) / elapsed, ids


def _writer(make_append, w: int, ready, go, results) -> None:
    append = make_append()
    append(w, -1)  # warm up: connect, prepare
    ready.wait()
    go.wait()
    written: list[uuid.UUID] = []
    i = 0
    while go.is_set():
        written.extend(append(w, i))
        i += 1
    results.put(written)


class Stamper(threading.Thread):
    """Asks for the head position every 10 ms, as a relay woken by appends would: this
    stamps positions (the cost the peer pays inside each insert) without reading events."""

    def __init__(self, store: EventStore):
        super().__init__(daemon=True)
        self.store = store
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.01):
            self.store.head_position()

    def verify(self, ids: list[uuid.UUID]) -> None:
        if self.store.head_position() != len(ids):
            raise AssertionError("some events were never given a position")


class TailingReader(threading.Thread):
    """Reads by position all along, as a relay does, and checks what it saw.

    Like a relay woken by appends, it reads again as soon as it caught up, at most every
    10 ms (each read stamps whatever committed meanwhile).
    """

    def __init__(self, store: EventStore):
        super().__init__(daemon=True)
        self.store = store
        self.done = threading.Event()
        self.seen: list[tuple[int, uuid.UUID]] = []

    def run(self) -> None:
        after = 0
        while True:
            finished = self.done.is_set()
            batch = self.store.read_all(after, limit=5000)
            self.seen.extend((e.position, e.event_id) for e in batch)
            if batch:
                after = batch[-1].position
            elif finished:
                return
            if len(batch) < 5000:
                time.sleep(0.01)

    def verify(self, ids: list[uuid.UUID]) -> None:
        positions = [p for p, _ in self.seen]
        seen_ids = [i for _, i in self.seen]
        if positions != sorted(set(positions)):
            raise AssertionError("the tailing reader saw positions out of order or twice")
        if len(seen_ids) != len(set(seen_ids)) or set(seen_ids) != set(ids):
            raise AssertionError("the tailing reader missed or repeated events")


def ours(writers: int, seconds: float, batch: int, tail: bool = True) -> float:
    """Events/s; ``tail``: a reader tails and checks every event, else positions are only
    stamped."""
    store, schema = scratch_store("ours")
    db = store.db
    db.dispose()  # the writers fork after this; each opens connections of its own

    def make_append() -> Append:
        own = EventStore(open_postgresql(DATABASE_URL, schema, pool_size=1), store.registry)

        def append(w: int, i: int) -> list[uuid.UUID]:
            meta = Metadata(occurred_at=datetime.now(UTC))
            events = [
                NewEvent("NoteWritten", {"text": TEXT, "writer": w}, meta) for _ in range(batch)
            ]
            stream, expected = (f"writer-{w}", i * batch) if i >= 0 else (f"warm-{w}", 0)
            own.append(stream, expected, events)
            return [e.event_id for e in events]

        return append

    reader = TailingReader(store) if tail else Stamper(store)
    reader.start()
    try:
        rate, ids = run_writers(writers, seconds, make_append)
        reader.done.set()
        reader.join()
        warm_up = [e.event_id for w in range(writers) for e in store.read_stream(f"warm-{w}")]
        reader.verify(ids + warm_up)
        return rate
    finally:
        db.dispose()
        drop_schema(schema)


def peer(writers: int, seconds: float, batch: int) -> float:
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    schema = scratch_schema("peer")

    def recorder_for(pool_size: int) -> PostgresApplicationRecorder:
        datastore = PostgresDatastore(
            **libpq_params(), schema=schema, pool_size=pool_size, max_overflow=0
        )
        return PostgresApplicationRecorder(datastore, events_table_name="stored_events")

    setup = recorder_for(1)
    with setup.datastore.transaction(commit=True) as cursor:
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    setup.create_table()
    setup.datastore.close()

    def make_append() -> Append:
        recorder = recorder_for(1)
        streams = {True: uuid.uuid4(), False: uuid.uuid4()}

        def append(w: int, i: int) -> list[uuid.UUID]:
            state = json.dumps({"text": TEXT, "writer": w}).encode()
            stream = streams[i >= 0]
            first = max(i, 0) * batch
            recorder.insert_events(
                [
                    StoredEvent(stream, first + k + 1, "bench:NoteWritten", state)
                    for k in range(batch)
                ]
            )
            return [stream] * batch

        return append

    try:
        rate, _ = run_writers(writers, seconds, make_append)
        return rate
    finally:
        drop_schema(schema)


def paired(ours_rate: Callable[[], float], peer_rate: Callable[[], float], repeats: int):
    """Medians of ``repeats`` alternating runs: slow spells of a shared machine hit both."""
    ours_runs, peer_runs = [], []
    for _ in range(repeats):
        ours_runs.append(ours_rate())
        peer_runs.append(peer_rate())
    return statistics.median(ours_runs), statistics.median(peer_runs)


def run(seconds: float, repeats: int = 3, which: frozenset = frozenset("ab")) -> list[Result]:
    results = []
    for writers in (1, 4, 8) if "a" in which else ():
        ours_rate, peer_rate = paired(
            lambda w=writers: ours(w, seconds, batch=1),
            lambda w=writers: peer(w, seconds, batch=1),
            repeats,
        )
        results.append(
            Result(
                "a",
                f"single-event commits, {writers} writer{'s' if writers > 1 else ''}",
                "events/s",
                ours_rate,
                peer_rate,
                "eventsourcing 9.5.6 PostgreSQL recorder",
                goal_ratio=3.0 if writers == 8 else 0.0,
                note="a reader tails by position throughout; it saw every event once, in order",
            )
        )
    for writers in (1, 4) if "b" in which else ():
        ours_rate, peer_rate = paired(
            lambda w=writers: ours(w, seconds, batch=100, tail=False),
            lambda w=writers: peer(w, seconds, batch=100),
            repeats,
        )
        results.append(
            Result(
                "b",
                f"100-event batches, {writers} writer{'s' if writers > 1 else ''}",
                "events/s",
                ours_rate,
                peer_rate,
                "eventsourcing 9.5.6 PostgreSQL recorder",
                goal_ratio=1.0,
                note="ours validates every event and stamps positions every 10 ms",
            )
        )
    return results
