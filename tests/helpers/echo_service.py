"""A tiny nameko service for the RPC outage tests, run in its own process (``python -m
tests.helpers.echo_service AMQP_URI RELEASE_FILE``) as every service is deployed.

``slow`` answers (with ``size`` more characters) only once ``RELEASE_FILE`` exists, so a
test can take the broker away between the request and the reply, or give up before it.
``ask_absent`` calls a service named ``absent``, as one service calls another
(``ServiceOf``); ``refuse`` raises and ``unsendable`` returns what JSON cannot carry. The
process exits when its container dies.
"""

from __future__ import annotations

import sys
from pathlib import Path

import eventlet

eventlet.monkey_patch()

from nameko.containers import ServiceContainer  # noqa: E402

from pmp.calls import ServiceOf  # noqa: E402
from pmp.rpc import rpc  # noqa: E402


class Echo:
    name = "echo"
    release = Path()
    absent = ServiceOf("absent")

    @rpc
    def ping(self) -> dict:
        return {"head_position": 7}

    @rpc
    def slow(self, size: int = 0) -> str:
        print("slow started", flush=True)
        while not Echo.release.exists():
            eventlet.sleep(0.05)
        print("slow answers", flush=True)
        return "late" + "x" * size

    @rpc
    def ask_absent(self) -> str:
        return self.absent.ping()

    @rpc
    def refuse(self) -> str:
        raise ValueError("refused: wrong month")

    @rpc
    def unsendable(self) -> object:
        return {1, 2}  # a set: JSON has none


def main() -> None:
    amqp_uri, release = sys.argv[1], sys.argv[2]
    Echo.release = Path(release)
    container = ServiceContainer(Echo, {"AMQP_URI": amqp_uri})
    container.start()
    print("echo started", flush=True)
    try:
        container.wait()
    except Exception as exc:
        print(f"echo died: {exc!r}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
