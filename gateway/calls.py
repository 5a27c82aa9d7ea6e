"""RPC from the gateway to any service, with a deadline on every call.

nameko's ``RpcProxy`` binds one target service per dependency; the gateway talks to all of
them, so this provider hands out a proxy per service on demand, over one reply queue.
Context data (the correlation id, later the principal) travels with every call.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import eventlet
from nameko.exceptions import RpcTimeout
from nameko.extensions import DependencyProvider
from nameko.rpc import ReplyListener, ServiceProxy

# Publishing a request: one reconnect (a pooled connection the broker dropped), then give up
# (nameko's default, three tries two seconds apart and more, outlasts the gateway's deadline).
FAIL_FAST = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}


class ServiceCalls:
    """What a gateway worker uses to call services."""

    def __init__(self, worker_ctx, reply_listener: ReplyListener):
        self._worker_ctx = worker_ctx
        self._reply_listener = reply_listener

    def call(self, service: str, method: str, timeout: float, **kwargs: Any) -> Any:
        """Call ``service.method(**kwargs)``; raise ``RpcTimeout`` after ``timeout`` seconds."""
        return self.call_many([service], method, timeout, **kwargs)[service].result()

    def call_many(
        self, services: Iterable[str], method: str, timeout: float, **kwargs: Any
    ) -> dict[str, _Outcome]:
        """Call ``method`` on each of ``services`` at once; wait at most ``timeout`` in all.

        The deadline covers sending the request too: while the broker is down, nameko's
        publish would retry for longer than any deadline (a /healthz that hung).
        """
        services = list(services)
        started = time.monotonic()
        outcomes: dict[str, _Outcome] = {}

        def ask(service: str) -> None:
            # Each call runs in its own greenthread, so a stuck service costs the deadline
            # only for itself and every latency is measured when its answer came.
            left = max(0.0, timeout - (time.monotonic() - started))
            try:
                with eventlet.Timeout(left, RpcTimeout(f"no answer within {timeout} s")):
                    # The request expires in the service's queue when this caller stops
                    # waiting: a service that was down does not run, at its start,
                    # requests nobody awaits.
                    proxy = ServiceProxy(
                        self._worker_ctx,
                        service,
                        self._reply_listener,
                        retry_policy=FAIL_FAST,
                        expiration=left,
                    )
                    value = getattr(proxy, method).call_async(**kwargs).result()
                outcomes[service] = _Outcome(value=value, started=started)
            except Exception as exc:  # RpcTimeout, UnknownService, the broker gone, ...
                outcomes[service] = _Outcome(error=exc)

        waiting = eventlet.GreenPool()
        for service in services:
            waiting.spawn_n(ask, service)
        waiting.waitall()
        return {service: outcomes[service] for service in services}


class _Outcome:
    """One service's answer (or failure), and how long the answer took."""

    def __init__(self, value: Any = None, error: BaseException | None = None, started: float = 0.0):
        self.value = value
        self.error = error
        self.latency_ms = round((time.monotonic() - started) * 1000, 1) if started else None

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class Services(DependencyProvider):
    rpc_reply_listener = ReplyListener()

    def get_dependency(self, worker_ctx) -> ServiceCalls:
        return ServiceCalls(worker_ctx, self.rpc_reply_listener)
