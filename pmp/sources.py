"""Event sources a projector reads: its own service's store, or another service over RPC."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import kombu.exceptions
from amqp.exceptions import AMQPError

from pmp.envelope import EventBatch, RecordedEvent
from pmp.eventstore import EventStore
from pmp.relayed import RelayedEvents

# What a broken or unreachable broker raises under a call (socket errors are OSErrors).
_BROKEN = (OSError, AMQPError, kombu.exceptions.OperationalError)


class StoreSource:
    """The projecting service's own event store; with ``streams``, only their events."""

    def __init__(
        self, store: EventStore, streams: Sequence[str] = (), max_bytes: int | None = None
    ):
        self.store = store
        self.streams = tuple(streams)
        self.max_bytes = max_bytes  # of event data per read (whole events, at least one)

    def read(self, after_position: int, limit: int) -> EventBatch:
        if self.streams:
            return self.store.read_streams(
                self.streams, after_position, limit, max_bytes=self.max_bytes
            )
        return self.store.read_all(after_position, limit, max_bytes=self.max_bytes)

    def head(self) -> int:
        return self.store.head_of(self.streams) if self.streams else self.store.head_position()


class BrokerUnavailable(ConnectionError):
    """The RPC client lost (or could not reach) the broker; the next call connects anew."""


class ClusterProxy:
    """A standalone nameko RPC client, started on first use by the thread that uses it; a
    request it sends expires in the queue once its ``timeout`` has passed unanswered.

    nameko's client never reconnects: once its connection broke, every later call fails
    with "This consumer has been disconnected". So a call that finds it disconnected, or
    that the broker fails under, drops it (raising ``BrokerUnavailable``), and the next call
    starts a new one. ``proxy()[service].method(**kwargs)`` calls as nameko's proxy does.
    """

    def __init__(self, amqp_uri: str, timeout: float):
        self._config = {"AMQP_URI": amqp_uri}
        self._timeout = timeout
        self._cluster = None
        self._proxy = None

    def __call__(self) -> _Cluster:
        return _Cluster(self)

    def call(self, service: str, method: str, **kwargs: Any) -> Any:
        """``service.method(**kwargs)`` over RPC; ``BrokerUnavailable`` if the broker fails."""
        try:
            return getattr(self._client()[service], method)(**kwargs)
        except _BROKEN as exc:
            self.close()
            raise BrokerUnavailable(f"the broker failed under a call to {service}: {exc}") from exc
        except RuntimeError as exc:  # nameko's "This consumer has been disconnected"
            if self._connected():
                raise
            self.close()
            raise BrokerUnavailable(f"the RPC client lost the broker: {exc}") from exc

    def _client(self) -> Any:
        if self._proxy is not None and not self._connected():
            self.close()
        if self._proxy is None:
            from pmp.rpc_client import ExpiringClusterRpcProxy

            self._cluster = ExpiringClusterRpcProxy(self._config, timeout=self._timeout)
            try:
                self._proxy = self._cluster.start()
            except _BROKEN as exc:
                self.close()
                raise BrokerUnavailable(f"the broker cannot be reached: {exc}") from exc
        return self._proxy

    def _connected(self) -> bool:
        """Whether the client's reply consumer still holds its connection (nameko internals:
        the same test nameko's own reply wait makes before it refuses)."""
        if self._cluster is None:
            return False
        connection = getattr(self._cluster._reply_listener.queue_consumer, "connection", None)
        return connection is not None and connection.connected is not False

    def close(self) -> None:
        if self._cluster is not None:
            with contextlib.suppress(Exception):  # often closing what already broke
                self._cluster.stop()
        self._cluster = self._proxy = None


class _Cluster:
    """``proxy()[service].method(**kwargs)``, through ``ClusterProxy.call``."""

    def __init__(self, proxy: ClusterProxy):
        self._proxy = proxy

    def __getitem__(self, service: str) -> _Service:
        return _Service(self._proxy, service)


class _Service:
    def __init__(self, proxy: ClusterProxy, service: str):
        self._proxy = proxy
        self._service = service

    def __getattr__(self, method: str) -> Callable[..., Any]:
        return partial(self._proxy.call, self._service, method)


class SourceUnavailable(Exception):
    """The source service is not running (yet) or did not answer in time."""


class RpcSource:
    """Another service's store, read through its ``read_batch`` RPC (each reply at most
    ``max_bytes`` of event data, or the source's own bound if lower); events its relay has
    just published, if ``relayed`` holds them from the checkpoint on, are taken from there."""

    def __init__(
        self,
        service: str,
        proxy: ClusterProxy,
        max_bytes: int | None = None,
        relayed: RelayedEvents | None = None,
    ):
        self.service = service
        self.proxy = proxy
        self.max_bytes = max_bytes
        self.relayed = relayed

    def read(self, after_position: int, limit: int) -> EventBatch:
        if self.relayed is not None:
            found = self.relayed.take(after_position, limit, self.max_bytes)
            if found:
                return found
        reply = self._call(
            "read_batch", after_position=after_position, limit=limit, max_bytes=self.max_bytes
        )
        return EventBatch(map(RecordedEvent.from_json, reply["events"]), more=reply["more"])

    def head(self) -> int:
        return self._call("ping")["head_position"]

    def _call(self, method: str, **kwargs: Any) -> Any:
        from nameko.exceptions import RpcTimeout, UnknownService

        try:
            return self.proxy.call(self.service, method, **kwargs)
        except (UnknownService, RpcTimeout, BrokerUnavailable) as exc:
            raise SourceUnavailable(f"{self.service} is not answering: {exc}") from None
