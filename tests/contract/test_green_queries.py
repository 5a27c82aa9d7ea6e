"""A query on PostgreSQL yields the service's hub (issue 23, item 8).

A service is one OS thread under eventlet. psycopg's default wait is a C ``poll`` that
blocks that thread: while a projector's query ran, the service answered no ping, and
/healthz said 503 for as long as the alerts watch caught up after a bulk intake. The kernel
makes psycopg wait through the patched ``select`` whatever the order modules are imported in.
"""

from __future__ import annotations

import os
import subprocess

from tests.helpers.processes import python


def test_a_service_answers_others_while_one_of_its_queries_runs(postgres_url, schema_prefix):
    result = subprocess.run(
        python("-m", "tests.helpers.green_query", postgres_url, f"{schema_prefix}green"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    ticks = int(result.stdout.split()[-1])
    assert ticks > 10, f"the other green thread ran {ticks} times during a 2 s query"


def test_pmp_service_patches_eventlet_before_the_kernel_is_imported(tmp_path):
    """The service command once imported every other command's parser first, and with them
    the kernel and psycopg: the patch came too late and each query blocked the service."""
    unreachable = {"PMP_AMQP_URI": "amqp://guest:guest@127.0.0.1:1/", "PMP_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        python("-X", "importtime", "-m", "pmp", "service", "alerts"),
        env={**os.environ, **unreachable},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "RabbitMQ" in result.stderr  # it stops at the broker
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()]
    patched = imported.index("eventlet.green.select")
    early = [m for m in imported[:patched] if m in {"pmp.db", "psycopg", "sqlalchemy"}]
    assert early == [], f"imported before eventlet's patching: {early}"
