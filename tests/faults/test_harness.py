"""The fault suite's own parts on a whole stack: the services reach the broker and the
database only through the proxies, and a service killed with -9 is started again by
``pmp up``. One stack for both: each stack costs half a minute."""

from __future__ import annotations

from tests.faults.processes import kill_service, wait_restarted


def test_the_services_go_through_the_proxies_and_a_killed_one_is_restarted(fault_stack):
    assert fault_stack.broker_proxy.connections > 0
    assert fault_stack.database_proxy.connections > 0
    assert str(fault_stack.broker_proxy.port) in fault_stack.env["PMP_AMQP_URI"]
    assert str(fault_stack.broker_proxy.port) not in fault_stack.direct_env["PMP_AMQP_URI"]

    old = kill_service(fault_stack, "query")
    new = wait_restarted(fault_stack, "query", old)
    assert new != old
    assert "query exited with -9; restarting" in fault_stack.process.log()
