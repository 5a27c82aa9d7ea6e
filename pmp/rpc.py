"""The ``@rpc`` entrypoint every service uses: nameko's, except that a reply that cannot be
sent does not kill the service.

In nameko 2.14.1 a worker publishes its reply from ``Rpc.handle_result`` (``Responder.
send_response``), inside the worker's greenthread. When the broker is down, that publish
gives up after its retry policy (three tries) and raises; the exception leaves
``ServiceContainer._run_worker``, the worker thread exits with an error, and
``_handle_thread_exited`` kills the container: one request in flight during a broker outage
stopped query, submissions or alerts. Here the failure is logged and the request message
acknowledged if its channel still lives (if not, the broker has already taken it back).
The caller, waiting for the reply, times out; the service goes on and reconnects.

A reply is also encoded once (nameko encodes it twice: a check that it can be, then the
publish; a report or a batch of events is tens of kilobytes) and sent without waiting for
the broker's confirm: a reply the broker loses is one its caller times out on, as on a
reply not sent, and the wait was a round trip per request.

Every entrypoint of a service must be this one: nameko's ``RpcConsumer`` and this one's
would be two consumers of the same ``rpc-<service>`` queue, each knowing only its methods.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import kombu.exceptions
import kombu.serialization
from amqp.exceptions import AMQPError
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    LOGIN_METHOD_CONFIG_KEY,
    SERIALIZER_CONFIG_KEY,
)
from nameko.exceptions import UnserializableValueError, serialize
from nameko.rpc import Responder, Rpc, RpcConsumer, get_rpc_exchange

from pmp.logs import get_logger

log = get_logger(__name__)


class Reply(Responder):
    """nameko's reply, encoded once and published unconfirmed."""

    def send_response(self, result: Any, exc_info) -> tuple[Any, Any]:
        error = serialize(exc_info[1]) if exc_info is not None else None
        content_type = self.message.properties["content_type"]  # as the request was sent
        serializer = kombu.serialization.registry.type_to_name[content_type]
        try:
            _, encoding, body = kombu.serialization.dumps(
                {"result": result, "error": error}, serializer
            )
        except Exception:  # nameko's answer to a result it cannot encode
            exc_info = sys.exc_info()
            error, result = serialize(UnserializableValueError(result)), None
            _, encoding, body = kombu.serialization.dumps(
                {"result": None, "error": error}, serializer
            )
        publisher = self.publisher_cls(self.amqp_uri, ssl=self.ssl, login_method=self.login_method)
        publisher.publish(
            body,
            content_type=content_type,
            content_encoding=encoding,
            exchange=self.exchange,
            routing_key=self.message.properties["reply_to"],
            correlation_id=self.message.properties.get("correlation_id"),
            use_confirms=False,
        )
        return result, exc_info


class SurvivingRpcConsumer(RpcConsumer):
    def handle_result(self, message, result: Any, exc_info) -> tuple[Any, Any]:
        try:
            return self._reply(message, result, exc_info)
        except (OSError, AMQPError, kombu.exceptions.OperationalError) as exc:
            log.warning(
                "reply not sent: the broker failed; the caller will time out",
                routing_key=message.delivery_info.get("routing_key"),
                error=str(exc),
            )
            with contextlib.suppress(Exception):  # a dead channel: the broker took it back
                self.queue_consumer.ack_message(message)
            return result, exc_info

    def _reply(self, message, result: Any, exc_info) -> tuple[Any, Any]:
        """``RpcConsumer.handle_result`` with ``Reply`` for nameko's ``Responder``."""
        config = self.container.config
        reply = Reply(
            config[AMQP_URI_CONFIG_KEY],
            get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER),
            message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY),
            login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
        )
        result, exc_info = reply.send_response(result, exc_info)
        self.queue_consumer.ack_message(message)
        return result, exc_info


class SurvivingRpc(Rpc):
    rpc_consumer = SurvivingRpcConsumer()


rpc = SurvivingRpc.decorator
