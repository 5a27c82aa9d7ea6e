"""A whole stack (``pmp up``) whose services reach RabbitMQ and PostgreSQL only through the
fault suite's TCP proxies, so a test can take either away from them and give it back.

Each test gets its own stack: its own vhost, schema prefix, data folder, ports and proxies.
The test's own commands (``converge``, ``pmp`` commands it runs to look) use ``direct_env``,
which reaches the broker and database without the proxies, so what the test sees is not
the fault it made.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from tests.faults.proxy import TcpProxy
from tests.helpers.smtp import running_smtp_server
from tests.helpers.stack import Stack, _stack


def through(url: str, proxy: TcpProxy) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class FaultStack(Stack):
    """A stack and the proxies between its services and the broker and the database."""

    broker_proxy: TcpProxy | None = None
    database_proxy: TcpProxy | None = None  # None on SQLite: the files need no network
    direct_env: dict[str, str] = field(default_factory=dict)

    def direct_env_for_commands(self) -> dict[str, str]:
        """The environment for a ``pmp`` command that must not go through the proxies."""
        return {**os.environ, **self.direct_env}


@contextlib.contextmanager
def fault_stack_of(
    request, broker, tmp_path_factory, settings: dict[str, str] | None = None
) -> Iterator[FaultStack]:
    """``pmp up`` on ``request.param`` (``"sqlite"`` or ``"postgresql"``) through proxies."""
    amqp = urlsplit(broker.amqp_uri)
    broker_proxy = TcpProxy(amqp.hostname or "127.0.0.1", amqp.port or 5672)
    database_proxy = None
    if request.param == "postgresql":
        database = urlsplit(request.getfixturevalue("postgres_url"))
        database_proxy = TcpProxy(database.hostname or "127.0.0.1", database.port or 5432)
    direct: dict[str, str] = {}

    def address(url: str) -> str:
        proxy = broker_proxy if url.startswith("amqp") else database_proxy
        assert proxy is not None
        routed = through(url, proxy)
        direct[routed] = url
        return routed

    try:
        with running_smtp_server() as mail:
            stacks = _stack(request, broker, tmp_path_factory, mail, settings, address)
            stack = next(stacks)
            direct_env = {k: direct.get(v, v) for k, v in stack.env.items()}
            try:
                yield FaultStack(
                    **vars(stack),
                    broker_proxy=broker_proxy,
                    database_proxy=database_proxy,
                    direct_env=direct_env,
                )
            finally:
                # Whatever the test left cut, the services get their dependencies back,
                # so they stop in order and the vhost and schemas can be dropped.
                for proxy in (broker_proxy, database_proxy):
                    if proxy is not None:
                        proxy.restore()
                stacks.close()
    finally:
        for proxy in (broker_proxy, database_proxy):
            if proxy is not None:
                proxy.close()
