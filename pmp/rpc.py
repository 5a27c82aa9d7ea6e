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

Every entrypoint of a service must be this one: nameko's ``RpcConsumer`` and this one's
would be two consumers of the same ``rpc-<service>`` queue, each knowing only its methods.
"""

from __future__ import annotations

import contextlib
from typing import Any

import kombu.exceptions
from amqp.exceptions import AMQPError
from nameko.rpc import Rpc, RpcConsumer

from pmp.logs import get_logger

log = get_logger(__name__)


class SurvivingRpcConsumer(RpcConsumer):
    def handle_result(self, message, result: Any, exc_info) -> tuple[Any, Any]:
        try:
            return super().handle_result(message, result, exc_info)
        except (OSError, AMQPError, kombu.exceptions.OperationalError) as exc:
            log.warning(
                "reply not sent: the broker failed; the caller will time out",
                routing_key=message.delivery_info.get("routing_key"),
                error=str(exc),
            )
            with contextlib.suppress(Exception):  # a dead channel: the broker took it back
                self.queue_consumer.ack_message(message)
            return result, exc_info


class SurvivingRpc(Rpc):
    rpc_consumer = SurvivingRpcConsumer()


rpc = SurvivingRpc.decorator
