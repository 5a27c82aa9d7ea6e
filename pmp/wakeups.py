"""Wake-ups: a broadcast queue per replica, bound to the event exchanges a projector reads.

The messages' content is ignored: a projector reads events from its sources in order, from
its checkpoint. A message only says "something new happened at <service>, look now", so a
lost wake-up costs at most one poll interval and never an event. So the queue keeps only the
newest message (the broker drops the older ones), one is delivered at a time, and none is
decoded: a bulk intake's megabyte events once reached every projector, each decoded only to
be ignored. The listener outlives
broker outages: it reconnects with a growing pause, and wakes its projector once it is back.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence

import kombu

from pmp.broker import event_exchange
from pmp.leader import retry_pause
from pmp.logs import get_logger

log = get_logger(__name__)


def listen_for_wakeups(
    amqp_uri: str,
    owner: str,
    sources: Sequence[str],
    on_wake: Callable[[str], None],
    stop: threading.Event,
    poll_interval: float = 1.0,
    types: Mapping[str, frozenset[str]] | None = None,
) -> None:
    """Call ``on_wake(source)`` for every event published by ``sources`` until ``stop``;
    of a source ``types`` names, for events of those types only (the relay publishes each
    event with its type as the routing key)."""
    by_exchange = {event_exchange(s).name: s for s in sources}
    types = types or {}
    queue = kombu.Queue(
        f"wakeup-{owner}-{uuid.uuid4().hex[:8]}",
        bindings=[
            kombu.binding(event_exchange(s), routing_key=key)
            for s in sources
            for key in sorted(types.get(s, ("#",)))
        ],
        exclusive=True,
        auto_delete=True,
        durable=False,
        queue_arguments={"x-max-length": 1, "x-overflow": "drop-head"},
    )

    def handle(message) -> None:
        message.ack()  # before the work: a wake-up arriving meanwhile waits in the queue
        on_wake(by_exchange.get(message.delivery_info.get("exchange"), ""))

    failures = 0
    while not stop.is_set():
        try:
            with (
                kombu.Connection(amqp_uri, heartbeat=0) as conn,
                conn.Consumer(queue, on_message=handle, prefetch_count=1),
            ):
                failures = 0
                on_wake("")  # wake-ups sent while we were away are lost: look now
                while not stop.is_set():
                    try:
                        conn.drain_events(timeout=poll_interval)
                    except TimeoutError:
                        continue
        except Exception as exc:  # a managed thread that raises stops the whole service
            failures += 1
            log.warning("wake-up listener lost the broker; retrying", error=str(exc))
            stop.wait(retry_pause(exc, failures, poll_interval))
