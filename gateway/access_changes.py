"""This gateway replica's ear for identity's access changes, which keeps its principal cache true.

A broadcast queue per replica (exclusive, deleted with its connection, as ``pmp/wakeups.py``
does for projectors) is bound to ``identity.access`` (the notices identity publishes, with a
confirm, before an access-changing RPC returns) and to ``identity.events`` (the same changes
relayed from the store: the backstop for a notice lost in a crash after the commit). Each
message drops the cached principals of its account. The cache is trusted only while this
queue is being consumed: it goes offline when the broker is lost and starts empty when the
subscription is back.
"""

from __future__ import annotations

import threading
import uuid
from typing import Protocol

import kombu

from pmp.broker import event_exchange
from pmp.logs import get_logger
from services.identity.access_changes import ACCESS_EXCHANGE, account_changed

log = get_logger(__name__)


class Cache(Protocol):
    def drop_account(self, account_id: str) -> None: ...
    def online(self) -> None: ...
    def offline(self) -> None: ...


def listen_for_access_changes(
    amqp_uri: str, cache: Cache, stop: threading.Event, poll_interval: float = 1.0
) -> None:
    """Drop the cached principals of every account whose access changes, until ``stop``."""
    queue = kombu.Queue(
        f"gateway-access-{uuid.uuid4().hex[:8]}",
        bindings=[
            kombu.binding(ACCESS_EXCHANGE),
            kombu.binding(event_exchange("identity"), routing_key="#"),
        ],
        exclusive=True,
        auto_delete=True,
        durable=False,
    )

    def handle(body, _message) -> None:
        account_id = account_changed(body)
        if account_id is not None:
            cache.drop_account(account_id)

    while not stop.is_set():
        try:
            with (
                kombu.Connection(amqp_uri, heartbeat=0) as conn,
                conn.Consumer(queue, callbacks=[handle], no_ack=True, accept=["json"]),
            ):
                cache.online()
                log.info("listening for access changes; principals cached")
                while not stop.is_set():
                    try:
                        conn.drain_events(timeout=poll_interval)
                    except TimeoutError:
                        continue
        except Exception as exc:  # a managed thread that raises stops the whole gateway
            log.warning("access changes not heard; caching no principals", error=str(exc))
        finally:
            cache.offline()
        stop.wait(poll_interval)
