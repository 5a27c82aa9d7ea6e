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
        """Call ``method`` on each of ``services`` at once; wait at most ``timeout`` in all."""
        pending = {}
        started = time.monotonic()
        for service in services:
            # The request expires in the service's queue when this caller stops waiting:
            # a service that was down does not run, at its start, requests nobody awaits.
            proxy = ServiceProxy(
                self._worker_ctx, service, self._reply_listener, expiration=timeout
            )
            try:
                pending[service] = getattr(proxy, method).call_async(**kwargs)
            except Exception as exc:  # e.g. UnknownService, broker gone
                pending[service] = exc
        outcomes: dict[str, _Outcome] = {}

        def collect(service: str, reply: Any) -> None:
            # Each reply is awaited in its own greenthread, so a stuck service costs the
            # deadline only for itself and every latency is measured when its answer came.
            try:
                with eventlet.Timeout(timeout, RpcTimeout(f"no answer within {timeout} s")):
                    value = reply.result()
                outcomes[service] = _Outcome(value=value, started=started)
            except Exception as exc:
                outcomes[service] = _Outcome(error=exc)

        waiting = eventlet.GreenPool()
        for service, reply in pending.items():
            if isinstance(reply, Exception):
                outcomes[service] = _Outcome(error=reply)
            else:
                waiting.spawn_n(collect, service, reply)
        waiting.waitall()
        return {service: outcomes[service] for service in pending}


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
