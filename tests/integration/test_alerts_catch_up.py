"""The alerts service answers pings while its watch catches up on a backlog (issue 23, 8b).

Its watch applied batches of thousands of records and evaluated thousands of persons without
letting the service's other green threads run, so ``ping`` went unanswered and /healthz said
503 for as long as it caught up (80 s after an outage)."""

from __future__ import annotations

from nameko.exceptions import RpcTimeout
from nameko.standalone.rpc import ClusterRpcProxy

from pmp.config import load_settings
from tests.helpers.asap import build, pha, record
from tests.helpers.commands import pmp_ok
from tests.helpers.processes import Process, python, wait_until

FILES, RECORDS = 3, 300  # one person per record


def test_alerts_answers_pings_while_its_watch_catches_up(env_for, amqp_uri, tmp_path):
    # One event per batch: the watch's checkpoint moves several times during the catch-up.
    env = env_for("sqlite", amqp_uri, PMP_RELAY_BATCH_SIZE="1", PMP_LOG_LEVEL="WARNING")
    files = [_file(tmp_path, f) for f in range(FILES)]
    pmp_ok("ingest", *map(str, files), env=env, timeout=600)  # the backlog, alerts stopped
    timeout = load_settings(env).health_timeout
    submissions = Process("submissions", python("-m", "pmp", "service", "submissions"), env,
                          tmp_path)  # fmt: skip
    alerts = None
    try:
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as rpc:
            head = wait_until(lambda: rpc.submissions.ping()["head_position"], 60,
                              "submissions answers", watch=[submissions])  # fmt: skip
            alerts = Process("alerts", python("-m", "pmp", "service", "alerts"), env, tmp_path)
            during: list[int] = []  # the watch's checkpoint at each ping answered meanwhile

            def caught_up() -> bool:
                try:
                    answer = rpc.alerts.ping()
                except RpcTimeout:
                    return False
                watch = next(c for c in answer["consumers"] if c["name"] == "alerts.watch")
                position = watch["positions"].get("submissions", 0)
                if 0 < position < head:
                    during.append(position)
                return position >= head

            wait_until(caught_up, 600, "the alerts watch caught up", every=0.2,
                       watch=[submissions, alerts])  # fmt: skip
        assert during, "no ping answered while the watch was catching up"
    finally:
        if alerts is not None:
            alerts.stop()
        submissions.stop()


def _file(tmp_path, f: int):
    path = tmp_path / f"week{f}.dat"
    records = [
        segment
        for n in range(RECORDS)
        for segment in record(f * RECORDS + n, pat={3: f"D{f:02d}{n:05d}", 7: _name(f, n)})
    ]
    path.write_bytes(build([(pha(), records)], th02=f"{1000 + f}"))
    return path


def _name(f: int, n: int) -> str:
    """A last name of letters for each record: a person of its own."""
    value = f * RECORDS + n
    return "Q" + "".join(chr(65 + value // 26**i % 26) for i in range(4))
