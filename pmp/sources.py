"""Event sources a projector reads: its own service's store, or another service over RPC."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pmp.envelope import RecordedEvent
from pmp.eventstore import EventStore


class StoreSource:
    """The projecting service's own event store; with ``streams``, only their events."""

    def __init__(
        self, store: EventStore, streams: Sequence[str] = (), max_bytes: int | None = None
    ):
        self.store = store
        self.streams = tuple(streams)
        self.max_bytes = max_bytes  # of event data per read (whole events, at least one)

    def read(self, after_position: int, limit: int) -> list[RecordedEvent]:
        if self.streams:
            return self.store.read_streams(
                self.streams, after_position, limit, max_bytes=self.max_bytes
            )
        return self.store.read_all(after_position, limit, max_bytes=self.max_bytes)

    def head(self) -> int:
        return self.store.head_of(self.streams) if self.streams else self.store.head_position()


class ClusterProxy:
    """A standalone nameko RPC client, started on first use by the thread that uses it; a
    request it sends expires in the queue once its ``timeout`` has passed unanswered."""

    def __init__(self, amqp_uri: str, timeout: float):
        self._config = {"AMQP_URI": amqp_uri}
        self._timeout = timeout
        self._cluster = None
        self._proxy = None

    def __call__(self) -> Any:
        if self._proxy is None:
            from pmp.rpc_client import ExpiringClusterRpcProxy

            self._cluster = ExpiringClusterRpcProxy(self._config, timeout=self._timeout)
            self._proxy = self._cluster.start()
        return self._proxy

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()
            self._cluster = self._proxy = None


class SourceUnavailable(Exception):
    """The source service is not running (yet) or did not answer in time."""


class RpcSource:
    """Another service's store, read through its ``read_events`` RPC (each reply at most
    ``max_bytes`` of event data, or the source's own bound if lower)."""

    def __init__(self, service: str, proxy: ClusterProxy, max_bytes: int | None = None):
        self.service = service
        self.proxy = proxy
        self.max_bytes = max_bytes

    def read(self, after_position: int, limit: int) -> list[RecordedEvent]:
        bodies = self._call(
            "read_events", after_position=after_position, limit=limit, max_bytes=self.max_bytes
        )
        return [RecordedEvent.from_json(body) for body in bodies]

    def head(self) -> int:
        return self._call("ping")["head_position"]

    def _call(self, method: str, **kwargs: Any) -> Any:
        from nameko.exceptions import RpcTimeout, UnknownService

        try:
            return getattr(self.proxy()[self.service], method)(**kwargs)
        except (UnknownService, RpcTimeout) as exc:
            raise SourceUnavailable(f"{self.service} is not answering: {exc}") from None
