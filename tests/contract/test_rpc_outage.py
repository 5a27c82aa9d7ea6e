"""RPC across a lost broker (issue 23, item 3), against the real RabbitMQ.

The client reaches the broker through the fault suite's TCP proxy, which the test cuts; the
service is made to lose the broker by deleting the test's own vhost (and creating it again):
nothing another test or stack uses is touched.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from pmp.sources import BrokerUnavailable, ClusterProxy, RpcSource, SourceUnavailable
from tests.faults.proxy import TcpProxy
from tests.faults.stack import through
from tests.helpers.processes import Process, python, wait_until
from tests.infrastructure import Broker


@pytest.fixture
def echo(amqp_uri: str, broker: Broker, tmp_path: Path) -> Iterator[Process]:
    """The echo service in its own process; ``echo.release`` lets its ``slow`` answer."""
    assert broker.api_uri or shutil.which("rabbitmqctl"), "cannot delete and create a vhost"
    release = tmp_path / "release"
    own = {"PMP_AMQP_URI": amqp_uri, "PMP_DATA_DIR": str(tmp_path)}
    command = python("-m", "tests.helpers.echo_service", amqp_uri, str(release))
    process = Process("echo", command, own, tmp_path)
    process.release = release  # type: ignore[attr-defined]
    try:
        wait_until(lambda: "echo started" in process.log(), 60, "echo started", watch=[process])
        yield process
    finally:
        process.stop()


def test_the_rpc_client_reconnects_after_a_broker_outage(echo, amqp_uri):
    proxy_to_broker = TcpProxy("127.0.0.1", urlsplit(amqp_uri).port or 5672)
    client = ClusterProxy(through(amqp_uri, proxy_to_broker), timeout=5)
    source = RpcSource("echo", client)
    try:
        assert source.head() == 7
        proxy_to_broker.cut()
        for _ in range(2):  # the call that finds the connection gone, and one while away
            with pytest.raises(SourceUnavailable):
                source.head()
        proxy_to_broker.restore()

        # nameko's own client stays "disconnected" for good; ours starts anew.
        wait_until(lambda: source.head() == 7, 60, "a read after the outage", watch=[echo])
    finally:
        client.close()
        proxy_to_broker.close()


def _answers(proxy: ClusterProxy) -> bool:
    try:
        return proxy()["echo"].ping() == {"head_position": 7}
    except BrokerUnavailable:
        return False


def test_a_worker_whose_reply_cannot_be_sent_does_not_stop_its_service(echo, broker, amqp_uri):
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=5) as client:
        client.echo.slow.call_async()  # its reply will find no broker
        wait_until(lambda: "slow started" in echo.log(), 30, "slow started", watch=[echo])
    broker.delete_vhost(amqp_uri)  # the broker refuses the service from now on
    echo.release.touch()

    wait_until(
        lambda: "reply not sent" in echo.log() or not echo.alive(),
        120,
        "the worker to give up its reply (or kill the service)",
    )
    assert echo.alive(), f"a reply the broker refused stopped the service:\n{echo.log()[-3000:]}"

    broker.create_vhost(unquote(urlsplit(amqp_uri).path.lstrip("/")))  # the same name again
    proxy = ClusterProxy(amqp_uri, timeout=5)
    try:
        wait_until(
            lambda: _answers(proxy), 60, "the service answering after the outage", watch=[echo]
        )
    finally:
        proxy.close()
