"""Events another service's relay has just published, kept a few seconds for its readers here.

A projection reading another service's store asked it for each new batch over RPC: for the
audit trail and the misuse watch, a round trip per lookup event, served by the query
service's read and carried twice by the broker, while the same events had already reached
their wake-up queues as the relay's messages. Those messages are the events as stored, in
position order, and a store's positions have no gaps; so the events a wake-up brings, from
the one after a reader's checkpoint on without a gap, are exactly what a read would return.
A reader takes them here; anything else (a gap where the broker dropped a wake-up, a large
event not kept, an event older than ``KEEP_SECONDS``) it reads from the source as before.

No event is kept longer than a few seconds, and none is written anywhere: this is a
hand-over between the wake-up listener and the projectors of one process, not a cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import orjson

from pmp.envelope import EventBatch, RecordedEvent
from pmp.logs import get_logger

log = get_logger(__name__)

KEEP_SECONDS = 5.0  # a projector woken by an event takes it well within this
KEEP_EVENTS = 2000  # and no more than this many at once
LARGEST_KEPT = 64 * 1024  # bytes of a message: a bulk intake's events (1 MB) are read instead


class RelayedEvents:
    """One source's recently relayed events, by position."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        # position: (when it came, its size in bytes, the event), in the order they came
        self._kept: dict[int, tuple[float, int, RecordedEvent]] = {}
        self._lock = threading.Lock()
        self.newest = 0  # the highest position any wake-up announced

    def offer(self, body: bytes) -> None:
        """Keep the event a relay message carries (a large or unreadable one is not kept)."""
        if len(body) > LARGEST_KEPT:
            return
        try:
            event = RecordedEvent.from_json(orjson.loads(body))
        except (ValueError, KeyError, TypeError) as exc:
            log.debug("relayed message not kept", error=str(exc))
            return
        if not isinstance(event.position, int):
            return
        now = self._clock()
        with self._lock:
            self.newest = max(self.newest, event.position)
            if event.position not in self._kept:  # another listener's copy came first
                self._kept[event.position] = (now, len(body), event)
            self._forget(now)

    def take(
        self, after_position: int, limit: int, max_bytes: int | None = None
    ) -> EventBatch | None:
        """The kept events from ``after_position + 1`` on, without a gap, at most ``limit``
        and ``max_bytes`` (at least one), as a read of the store bounds them (None: the next
        one is not here). ``more`` if events newer than these were announced: the next read
        takes them, or finds the gap and goes to the source."""
        with self._lock:
            self._forget(self._clock())
            found = EventBatch(more=False)
            position, taken = after_position + 1, 0
            while len(found) < limit and position in self._kept:
                _, size, event = self._kept[position]
                if found and max_bytes is not None and taken + size > max_bytes:
                    break
                found.append(event)
                position, taken = position + 1, taken + size
            if not found:
                return None
            found.more = found[-1].position < self.newest  # type: ignore[operator]
            return found

    def _forget(self, now: float) -> None:
        """Drop events kept too long, and the oldest beyond ``KEEP_EVENTS``."""
        for position, (since, _, _) in list(self._kept.items()):
            if now - since < KEEP_SECONDS and len(self._kept) <= KEEP_EVENTS:
                break
            del self._kept[position]
