"""Experiment 2 (and 7) of issue 23: RabbitMQ goes away from every service during an ingest
and lookups, and comes back. Services reconnect by themselves, the relays resume from their
checkpoints, nothing is lost or doubled; users see 503 with Retry-After meanwhile."""

from __future__ import annotations

import pytest

from tests.faults.outage import outage_during_ingest_and_lookups
from tests.faults.sizes import size

# An ingest, a cut, convergence and /healthz afterwards: minutes, more on a busy machine.
pytestmark = pytest.mark.timeout(size(900, 3600))


def test_a_broker_outage_heals_by_itself(outage_stack, tmp_path):
    outage_during_ingest_and_lookups(
        outage_stack, outage_stack.broker_proxy, tmp_path, "experiment 2 (broker outage)"
    )
