"""The query service scales out: two replicas answer RPC from one queue, and killing one in
the middle of a load fails no request beyond the client's one retry (the broker hands the
dead replica's unacknowledged requests to the living one)."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

import pytest
from nameko.exceptions import RpcTimeout
from nameko.standalone.rpc import ClusterRpcProxy

from services.identity.roles import Role, permissions_of
from tests.helpers.processes import Process, python, wait_until
from tests.integration.test_stack import _child_running

pytestmark = pytest.mark.parametrize("stack", ["postgresql"], indirect=True)

CLIENTS = 6
PRESCRIBER = {
    "actor_id": "3f1d7c1e-0000-4000-8000-000000000001",
    "actor_role": str(Role.PRESCRIBER),
    "actor_name": "Replica Test",
    "actor_permissions": sorted(permissions_of(Role.PRESCRIBER)),
}
SEARCH = {"first_name": "Nobody", "last_name": "Atall", "birth_date": "1970-01-01"}
PURPOSE = {"kind": "treating", "attested": True}


def test_a_killed_query_replica_fails_no_request_beyond_its_retry(stack, tmp_path):
    second = Process("query-2", python("-m", "pmp", "service", "query"), stack.env, tmp_path)
    outcomes: Counter[str] = Counter()
    stop = threading.Event()

    def client() -> None:
        config = {"AMQP_URI": stack.env["PMP_AMQP_URI"]}
        with ClusterRpcProxy(config, timeout=10, context_data=PRESCRIBER) as rpc:
            while not stop.is_set():
                for attempt in ("first", "retry"):
                    try:
                        rpc.query.search_patients(criteria=SEARCH, purpose=PURPOSE)
                        outcomes[f"answered on {attempt}"] += 1
                        break
                    except RpcTimeout:
                        outcomes[f"timed out on {attempt}"] += 1
                    except Exception as exc:  # noqa: BLE001 - every failure is counted
                        outcomes[f"failed: {type(exc).__name__}"] += 1
                        break

    clients = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for thread in clients:
        thread.start()
    try:
        wait_until(lambda: sum(outcomes.values()) >= 200, 120, "200 searches answered")
        wait_until(lambda: second.log().count("patient searched") >= 5, 90,
                   "the second replica answered searches too", watch=[second])  # fmt: skip
        first = _child_running(stack.process.pid, "query")
        answered = sum(outcomes.values())
        os.kill(first, signal.SIGKILL)  # mid-load: its in-flight requests go unacknowledged
        wait_until(lambda: sum(outcomes.values()) >= answered + 200, 120,
                   "200 more searches answered after the kill")  # fmt: skip
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=30)
        second.stop()
    print(f"outcomes: {dict(outcomes)}")
    failed = {k: n for k, n in outcomes.items() if not k.startswith("answered")}
    assert not {k: n for k, n in failed.items() if k != "timed out on first"}, outcomes
    assert outcomes["answered on first"] >= 400, outcomes
