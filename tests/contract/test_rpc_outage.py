"""RPC across a lost broker (issue 23, item 3), against the real RabbitMQ.

The client reaches the broker through the fault suite's TCP proxy, which the test cuts; the
service is made to lose the broker by deleting the test's own vhost (and creating it again):
nothing another test or stack uses is touched.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import kombu
import pytest
from nameko.exceptions import RemoteError, RpcTimeout
from nameko.standalone.rpc import ClusterRpcProxy

from pmp.sources import BrokerUnavailable, ClusterProxy, RpcSource, SourceUnavailable
from tests.faults.proxy import TcpProxy
from tests.faults.stack import through
from tests.helpers.processes import Process, python, wait_until
from tests.infrastructure import Broker

INNER_DEADLINE = 2  # PMP_RPC_TIMEOUT of the echo service: its calls to other services


@pytest.fixture
def echo(amqp_uri: str, broker: Broker, tmp_path: Path) -> Iterator[Process]:
    """The echo service in its own process; ``echo.release`` lets its ``slow`` answer."""
    assert broker.api_uri or shutil.which("rabbitmqctl"), "cannot delete and create a vhost"
    release = tmp_path / "release"
    own = {
        "PMP_AMQP_URI": amqp_uri,
        "PMP_DATA_DIR": str(tmp_path),
        "PMP_RPC_TIMEOUT": str(INNER_DEADLINE),
    }
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


def test_a_reply_carries_the_result_the_error_or_why_it_could_not_be_sent(echo, amqp_uri):
    """Replies are encoded once and published unconfirmed (``pmp.rpc.Reply``): what the
    caller gets is still nameko's, for an answer, a refusal and a result JSON cannot hold."""
    client = ClusterProxy(amqp_uri, timeout=10)
    try:
        echo_service = client()["echo"]
        assert echo_service.ping() == {"head_position": 7}
        echo.release.touch()
        assert echo_service.slow(size=3) == "latexxx"
        with pytest.raises(RemoteError) as refused:
            echo_service.refuse()
        assert refused.value.exc_type == "ValueError" and "wrong month" in str(refused.value)
        with pytest.raises(RemoteError) as unsent:
            echo_service.unsendable()
        assert unsent.value.exc_type == "UnserializableValueError"
        assert echo_service.ping() == {"head_position": 7}  # the service goes on
    finally:
        client.close()


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


def test_a_call_to_a_service_that_does_not_answer_gives_up_and_its_request_expires(echo, amqp_uri):
    """helpdesk asking identity (and the like) while identity is down: the worker gives up
    after its deadline instead of waiting for ever, and identity will not run the request,
    which nobody awaits any more, when it starts."""
    with kombu.Connection(amqp_uri) as conn:
        requests = kombu.Queue(  # as nameko declares it: "absent" ran once, and is down
            "rpc-absent",
            kombu.Exchange("nameko-rpc", type="topic", durable=True),
            routing_key="absent.*",
            durable=True,
        )
        requests(conn.default_channel).declare()
        with (
            ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10 * INNER_DEADLINE) as client,
            pytest.raises(RemoteError) as raised,
        ):
            client.echo.ask_absent()
        assert raised.value.exc_type == "RpcTimeout", raised.value

        def waiting() -> int:
            return requests(conn.default_channel).queue_declare(passive=True).message_count

        wait_until(lambda: waiting() == 0, 30, "the unanswered request to expire in its queue")


def test_a_reply_that_comes_after_its_caller_gave_up_is_not_kept(echo, amqp_uri):
    """A projector's read of another store that timed out under load is answered later; the
    late answer (up to PMP_READ_BYTES, decoded several times that) was kept by nameko's
    client for ever: 61 of them grew query past 1.4 GB in a 1,000,000-record ingest."""
    client = ClusterProxy(amqp_uri, timeout=2)
    try:
        with pytest.raises(RpcTimeout):
            client.call("echo", "slow", size=1_000_000)
        echo.release.touch()
        wait_until(lambda: "slow answers" in echo.log(), 30, "the late answer", watch=[echo])
        for _ in range(20):  # calls for two seconds: one of them reads the late answer too
            assert client.call("echo", "ping") == {"head_position": 7}
            time.sleep(0.1)

        kept = client._cluster._reply_listener.queue_consumer.replies  # nameko's reply store
        assert kept == {}, f"{len(kept)} late replies kept"
    finally:
        client.close()


def test_a_request_is_not_written_to_the_brokers_disk(echo, amqp_uri):
    """A request lives only as long as its caller waits (its TTL is the caller's deadline),
    yet nameko sends it persistent, and RabbitMQ writes a persistent message in a durable
    ``rpc-<service>`` queue to its message store: with the gateway's two calls per lookup and
    the projectors' reads, about a fifth of the broker's CPU per lookup. Both clients, one
    service's call to another (``ServiceOf``) and a projector's read (``ClusterProxy``),
    send it transient."""
    with kombu.Connection(amqp_uri) as conn:
        requests = kombu.Queue(
            "rpc-absent",
            kombu.Exchange("nameko-rpc", type="topic", durable=True),
            routing_key="absent.*",
            durable=True,
        )
        requests(conn.default_channel).declare()
        client = ClusterProxy(amqp_uri, timeout=10)
        callers = [
            threading.Thread(target=_refused, args=(client, "echo", "ask_absent")),
            threading.Thread(target=_refused, args=(ClusterProxy(amqp_uri, 10), "absent", "ping")),
        ]
        for caller in callers:
            caller.start()
        taken = []
        while len(taken) < 2:
            message = requests(conn.default_channel).get(no_ack=True)
            if message is None:
                time.sleep(0.05)
                assert callers[0].is_alive() or callers[1].is_alive(), "a call ended early"
                continue
            taken.append(message)
        assert sorted(m.delivery_info["routing_key"] for m in taken) == ["absent.ping"] * 2
        assert [m.properties["delivery_mode"] for m in taken] == [1, 1]  # transient
        for caller in callers:
            caller.join(30)
        client.close()


def _refused(client: ClusterProxy, service: str, method: str) -> None:
    """A call nobody answers (its request is taken from the queue by the test)."""
    try:
        client.call(service, method)
    except (RpcTimeout, RemoteError):
        pass
    finally:
        client.close()
