"""RabbitMQ: event exchange naming, a reachability check, and a batching event publisher.

Events go to ``<service>.events`` (a nameko event exchange, topic, durable) with the event
type as routing key, so a nameko ``@event_handler(service, "PasswordChanged")`` receives
them as if nameko had dispatched them, context headers included.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import kombu
import orjson
from amqp.exceptions import AMQPError
from nameko.constants import HEADER_PREFIX
from nameko.standalone.events import get_event_exchange

from pmp.envelope import RecordedEvent


class BrokerUnreachable(RuntimeError):
    """RabbitMQ did not answer; the message says where we looked and how to start one."""


class PublishFailed(RuntimeError):
    """The broker refused (nacked) or never confirmed a batch; nothing may be checkpointed."""


def event_exchange(service: str) -> kombu.Exchange:
    """The exchange nameko itself would declare for ``service``'s events."""
    return get_event_exchange(service, {})


def safe_url(url: str) -> str:
    """``url`` with its password masked, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1))
    return urlunsplit(parts)


def check_broker(amqp_uri: str, timeout: float = 3.0) -> None:
    """Raise ``BrokerUnreachable`` with a one-line explanation unless RabbitMQ answers."""
    try:
        with kombu.Connection(amqp_uri, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except (OSError, AMQPError, kombu.exceptions.OperationalError) as exc:
        raise BrokerUnreachable(
            f"RabbitMQ is not reachable at {safe_url(amqp_uri)} ({exc}); start it with "
            "`rabbitmq-server -detached` (or `docker compose up rabbitmq`), or set PMP_AMQP_URI."
        ) from None


class EventPublisher:
    """Publishes batches of recorded events and returns once the broker confirmed them all.

    One publisher confirm covers a batch: the messages go out back to back and we then wait
    for the acknowledgements, which costs one round trip per batch instead of per message.
    """

    def __init__(self, amqp_uri: str, service: str, confirm_timeout: float = 30.0):
        self.amqp_uri = amqp_uri
        self.exchange = event_exchange(service)
        self.confirm_timeout = confirm_timeout
        self._conn: kombu.Connection | None = None
        self._channel = None
        self._published = 0  # delivery tag of the last message sent on this channel
        self._confirmed = 0
        self._nacked = False

    def publish(self, batch: Sequence[RecordedEvent]) -> None:
        if not batch:
            return
        try:
            self._publish(batch)
        except (OSError, AMQPError, kombu.exceptions.OperationalError) as exc:
            self.close()  # reconnect on the next batch; the relay will resend this one
            raise PublishFailed(f"publishing {len(batch)} events failed: {exc}") from exc

    def _publish(self, batch: Sequence[RecordedEvent]) -> None:
        channel = self._open()
        for event in batch:
            body = event.to_json()
            message = channel.prepare_message(
                orjson.dumps(body),
                content_type="application/json",
                content_encoding="utf-8",
                headers=_context_headers(body),
                properties={"delivery_mode": 2, "message_id": body["event_id"]},
            )
            channel.basic_publish(message, exchange=self.exchange.name, routing_key=event.type)
            self._published += 1
        self._wait_for_confirms()

    def _wait_for_confirms(self) -> None:
        assert self._conn is not None
        while self._confirmed < self._published:
            try:
                self._conn.drain_events(timeout=self.confirm_timeout)
            except TimeoutError:
                self.close()
                raise PublishFailed("the broker did not confirm the batch in time") from None
            if self._nacked:
                self.close()
                raise PublishFailed("the broker refused (nacked) part of the batch")

    def _open(self):
        if self._channel is None:
            self._conn = kombu.Connection(self.amqp_uri, heartbeat=0)
            self._conn.ensure_connection(max_retries=3)
            channel = self._conn.channel()
            self.exchange(channel).declare()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
            self._channel = channel
            self._published = self._confirmed = 0
            self._nacked = False
        return self._channel

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._confirmed = max(self._confirmed, delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked = True
        self._confirmed = max(self._confirmed, delivery_tag)

    def close(self) -> None:
        if self._conn is not None:
            # The connection is being dropped, often because it already failed.
            with contextlib.suppress(Exception):
                self._conn.release()
        self._conn = self._channel = None


def _context_headers(body: dict) -> dict[str, str]:
    """nameko context headers, so a consuming worker logs under the same correlation id."""
    meta = body["metadata"]
    context = {
        "correlation_id": meta["correlation_id"],
        "causation_id": body["event_id"],
        "actor_id": meta["actor_id"],
        "actor_role": meta["actor_role"],
    }
    return {f"{HEADER_PREFIX}.{k}": v for k, v in context.items() if v is not None}
