"""RPC from one service (or the gateway) to another, with a deadline on every call.

nameko's ``RpcProxy`` waits for its answer for ever, and its request waits in the target's
durable ``rpc-<service>`` queue for ever too: a worker of helpdesk asking identity while
identity was down stayed stuck, and identity ran the request at its next start for nobody.
Here a call gives up after its deadline (``RpcTimeout``, a 503 at the gateway) and its
request expires in the queue at the same moment; the broker keeps it in memory only
(``TRANSIENT``). ``Services`` is the gateway's: every service over one reply queue.
``ServiceOf`` is a service's dependency on one other service
(``self.identity.get_account(...)``). Context data (the correlation id, the principal)
travels with every call.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Any

import eventlet
from nameko.exceptions import RpcTimeout
from nameko.extensions import DependencyProvider
from nameko.rpc import ReplyListener, ServiceProxy

from pmp.config import load_settings
from pmp.rpc_client import TRANSIENT

# Publishing a request: one reconnect (a pooled connection the broker dropped), then give up
# (nameko's default, three tries two seconds apart and more, outlasts the gateway's deadline).
FAIL_FAST = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}


class ServiceCalls:
    """What a worker uses to call services: the gateway's (``Services``), or a service's
    calls to one other (``ServiceOf``)."""

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
                        delivery_mode=TRANSIENT,
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
    """The gateway's calls: any service, each call with the deadline it passes."""

    rpc_reply_listener = ReplyListener()

    def get_dependency(self, worker_ctx) -> ServiceCalls:
        return ServiceCalls(worker_ctx, self.rpc_reply_listener)


class _OneService:
    """``self.identity.get_account(account_id=...)``: keyword calls, each with the deadline."""

    def __init__(self, calls: ServiceCalls, service: str, timeout: float):
        self._calls = calls
        self._service = service
        self._timeout = timeout

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)
        return functools.partial(self._calls.call, self._service, method, self._timeout)


class ServiceOf(DependencyProvider):
    """A service's calls to ``service``, each given up after ``PMP_RPC_TIMEOUT`` seconds."""

    rpc_reply_listener = ReplyListener()

    def __init__(self, service: str):
        self.service = service

    def setup(self) -> None:
        self.timeout = load_settings().rpc_timeout

    def get_dependency(self, worker_ctx) -> _OneService:
        calls = ServiceCalls(worker_ctx, self.rpc_reply_listener)
        return _OneService(calls, self.service, self.timeout)
