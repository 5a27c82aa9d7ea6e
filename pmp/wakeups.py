"""Wake-ups: a broadcast queue per replica, bound to the event exchanges a projector reads.

A message says "something new happened at <service>, look now": a projector reads events
from its sources in order, from its checkpoint, so a lost wake-up costs at most one poll
interval and never an event. Each message is also the event itself, as the relay published
it: ``on_event`` hands its body to the projectors of this process (``pmp.relayed``), which
take it instead of reading it back over RPC when nothing is missing before it.

A burst costs little: the queue keeps the newest ``KEPT`` messages (the broker drops older
ones), messages are taken without acknowledgements, a large body is never decoded here, and
whatever has arrived together wakes each source's projector once. The listener outlives
broker outages: it reconnects with a growing pause, and wakes its projector once it is back.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence

import kombu

from pmp.broker import event_exchange
from pmp.leader import retry_pause
from pmp.logs import get_logger

log = get_logger(__name__)

KEPT = 256  # messages a queue holds for a listener that is behind
GATHER_SECONDS = 0.05  # at most this long taking what has arrived before waking


def listen_for_wakeups(
    amqp_uri: str,
    owner: str,
    sources: Sequence[str],
    on_wake: Callable[[str], None],
    stop: threading.Event,
    poll_interval: float = 1.0,
    types: Mapping[str, frozenset[str]] | None = None,
    on_event: Callable[[str, bytes], None] | None = None,
) -> None:
    """Until ``stop``, call ``on_wake(source)`` once for the events of ``sources`` that have
    arrived together (of a source ``types`` names, for events of those types only: the relay
    publishes each event with its type as the routing key), after ``on_event(source, body)``
    for each of them. ``on_wake`` may take its time: what arrives meanwhile wakes it once."""
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
        queue_arguments={"x-max-length": KEPT, "x-overflow": "drop-head"},
    )
    arrived: dict[str, None] = {}  # sources with events since the last wake-up, in order

    def handle(message) -> None:
        source = by_exchange.get(message.delivery_info.get("exchange"), "")
        if on_event is not None:
            on_event(source, message.body)
        arrived[source] = None

    def gather(conn: kombu.Connection) -> None:
        """Wait for a message, then take what else has arrived (briefly), then wake."""
        try:
            conn.drain_events(timeout=poll_interval)
            until = time.monotonic() + GATHER_SECONDS
            while time.monotonic() < until:
                conn.drain_events(timeout=0.001)
        except TimeoutError:
            pass
        while arrived:
            source = next(iter(arrived))
            del arrived[source]
            on_wake(source)

    failures = 0
    while not stop.is_set():
        try:
            with (
                kombu.Connection(amqp_uri, heartbeat=0) as conn,
                conn.Consumer(queue, on_message=handle, no_ack=True),
            ):
                failures = 0
                on_wake("")  # wake-ups sent while we were away are lost: look now
                while not stop.is_set():
                    gather(conn)
        except Exception as exc:  # a managed thread that raises stops the whole service
            failures += 1
            log.warning("wake-up listener lost the broker; retrying", error=str(exc))
            stop.wait(retry_pause(exc, failures, poll_interval))
