"""RPC across a lost broker connection (issue 23, item 3), against the real RabbitMQ.

Each test cuts only its own vhost's connections (management API, else rabbitmqctl), or deletes
and re-creates its own vhost to make the broker refuse it for a while: nothing another test
or stack uses is touched.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from pmp.sources import BrokerUnavailable, ClusterProxy, RpcSource, SourceUnavailable
from tests.helpers.processes import Process, python, wait_until
from tests.infrastructure import Broker, _api


def _vhost(amqp_uri: str) -> str:
    return unquote(urlsplit(amqp_uri).path.lstrip("/"))


def close_connections(broker: Broker, amqp_uri: str) -> int:
    """Close every connection into the test's vhost, as a broker outage does."""
    vhost = _vhost(amqp_uri)
    if broker.api_uri:
        base, auth = _api(broker.api_uri)
        found = requests.get(f"{base}/api/vhosts/{vhost}/connections", auth=auth, timeout=10)
        names = [c["name"] for c in found.json()]
        for name in names:
            requests.delete(f"{base}/api/connections/{name}", auth=auth, timeout=10)
        return len(names)
    listed = _rabbitmqctl("list_connections", "pid", "vhost").stdout.splitlines()
    pids = [line.split("\t")[0] for line in listed if line.endswith(f"\t{vhost}")]
    for pid in pids:
        _rabbitmqctl("close_connection", pid, "test: broker outage")
    return len(pids)


def restore_vhost(broker: Broker, amqp_uri: str) -> None:
    """Create the test's (deleted) vhost again under the same name."""
    name = _vhost(amqp_uri)
    user = urlsplit(amqp_uri).username or "guest"
    if broker.api_uri:
        base, auth = _api(broker.api_uri)
        requests.put(f"{base}/api/vhosts/{name}", auth=auth, timeout=10).raise_for_status()
        requests.put(
            f"{base}/api/permissions/{name}/{user}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
            auth=auth,
            timeout=10,
        ).raise_for_status()
        return
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")


def _rabbitmqctl(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


@pytest.fixture
def echo(amqp_uri: str, broker: Broker, tmp_path: Path) -> Iterator[Process]:
    """The echo service in its own process; ``echo.release`` lets its ``slow`` answer."""
    assert broker.api_uri or shutil.which("rabbitmqctl"), "no way to cut the test's connections"
    release = tmp_path / "release"
    process = Process(
        "echo", python("-m", "tests.helpers.echo_service", amqp_uri, str(release)), {}, tmp_path
    )
    process.release = release  # type: ignore[attr-defined]
    try:
        wait_until(lambda: "echo started" in process.log(), 60, "echo started", watch=[process])
        yield process
    finally:
        process.stop()


def _reads(source: RpcSource) -> bool:
    try:
        return source.head() == 7
    except SourceUnavailable:
        return False  # the first call after the cut may find the broken client


def test_the_rpc_client_reconnects_after_its_connection_was_closed(echo, broker, amqp_uri):
    proxy = ClusterProxy(amqp_uri, timeout=5)
    source = RpcSource("echo", proxy)
    try:
        assert source.head() == 7
        assert close_connections(broker, amqp_uri) >= 2  # the client's and the service's

        # nameko's client stays "disconnected" for good; ours starts anew. The service's
        # own consumer reconnects too, or no read would ever succeed again.
        wait_until(
            lambda: _reads(source), 60, "a read through the RPC client after the cut", watch=[echo]
        )
    finally:
        proxy.close()


def test_a_call_while_the_broker_refuses_raises_broker_unavailable_then_works(
    echo, broker, amqp_uri
):
    proxy = ClusterProxy(amqp_uri, timeout=5)
    try:
        assert proxy()["echo"].ping() == {"head_position": 7}
        broker.delete_vhost(amqp_uri)  # every connection into it closed, new ones refused
        with pytest.raises(BrokerUnavailable):
            proxy()["echo"].ping()
        restore_vhost(broker, amqp_uri)
        wait_until(lambda: _answers(proxy), 60, "a call after the vhost came back", watch=[echo])
    finally:
        proxy.close()


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

    restore_vhost(broker, amqp_uri)
    proxy = ClusterProxy(amqp_uri, timeout=5)
    try:
        wait_until(
            lambda: _answers(proxy), 60, "the service answering after the outage", watch=[echo]
        )
    finally:
        proxy.close()
