"""A TCP proxy of our own between the services and RabbitMQ or PostgreSQL, so a fault test
can cut, slow or reset their connections without touching the broker or the database.

It listens on a free port of 127.0.0.1 and forwards every connection to one target. An
asyncio loop in one daemon thread does all the work; the public methods hand it commands
and wait until they are done, so when ``cut()`` returns every connection is already gone.

- ``cut()``: every open connection is reset and every new one is reset at once, as if the
  broker or database had gone away; ``restore()`` lets new connections through again.
- ``delay(seconds)``: each chunk forwarded in either direction waits that long first.
- ``reset()``: every open connection is reset (TCP RST); new ones go through.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any

CHUNK = 65536
COMMAND_TIMEOUT = 10.0


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target_host``:``target_port`` until ``close()``."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self._cut = False
        self._delay = 0.0
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port: int = self._server.sockets[0].getsockname()[1]

    @property
    def connections(self) -> int:
        """How many client connections are being forwarded now."""
        return len(self._pairs)

    def cut(self) -> None:
        """The target goes away: open connections are reset, new ones reset on arrival."""
        self._call(self._set_cut(True))

    def restore(self) -> None:
        """New connections reach the target again (and ``delay`` goes back to none)."""
        self._call(self._set_cut(False))
        self._delay = 0.0

    def delay(self, seconds: float) -> None:
        """Add ``seconds`` of latency to each chunk forwarded, both ways."""
        self._delay = seconds

    def reset(self) -> None:
        """Reset (RST) every open connection; new connections go through."""
        self._call(self._reset_all())

    def close(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=COMMAND_TIMEOUT)
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(COMMAND_TIMEOUT)

    async def _set_cut(self, cut: bool) -> None:
        self._cut = cut
        if cut:
            await self._reset_all()

    async def _reset_all(self) -> None:
        for client, upstream in list(self._pairs):
            _abort(client)
            _abort(upstream)
        self._pairs.clear()

    async def _shutdown(self) -> None:
        self._server.close()
        await self._reset_all()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            _abort(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _abort(writer)
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._pairs.discard(pair)
            for side in pair:
                side.close()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Copy one direction until it ends; then end the other too (neither AMQP nor the
        PostgreSQL protocol half-closes)."""
        try:
            while data := await source.read(CHUNK):
                if self._delay:
                    await asyncio.sleep(self._delay)
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.close()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (linger 0), as a crashed peer or a dropped route looks."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
