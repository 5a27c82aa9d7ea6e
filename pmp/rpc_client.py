"""A standalone RPC client whose requests expire once their caller has stopped waiting.

Every service's ``rpc-<service>`` queue is durable: a request published while the service is
down, slow or stuck waits there, and is replayed whenever the service starts, long after its
caller timed out (a projector's read of another store, asked again every poll, piles up by
the hundred). Each request here carries a per-message TTL equal to the caller's timeout, so
the broker drops it, unexecuted, once nobody waits for its answer. nameko's
``ClusterRpcProxy`` has no way to pass publish options to its service proxies; this one does.
"""

from __future__ import annotations

from typing import Any

from nameko.rpc import ServiceProxy
from nameko.standalone.rpc import ClusterRpcProxy


class _ExpiringServices:
    """``proxy[service]`` / ``proxy.service``: a service proxy whose requests expire."""

    def __init__(self, worker_ctx: Any, reply_listener: Any, expiration: float):
        self._worker_ctx = worker_ctx
        self._reply_listener = reply_listener
        self._expiration = expiration
        self._proxies: dict[str, ServiceProxy] = {}

    def __getitem__(self, name: str) -> ServiceProxy:
        if name not in self._proxies:
            self._proxies[name] = ServiceProxy(
                self._worker_ctx, name, self._reply_listener, expiration=self._expiration
            )
        return self._proxies[name]

    def __getattr__(self, name: str) -> ServiceProxy:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]


class ExpiringClusterRpcProxy(ClusterRpcProxy):
    """``ClusterRpcProxy`` whose every request expires in the queue after ``timeout`` s."""

    def __init__(self, config: dict[str, Any], timeout: float, **kwargs: Any):
        super().__init__(config, timeout=timeout, **kwargs)
        self._proxy = _ExpiringServices(self._worker_ctx, self._reply_listener, timeout)
