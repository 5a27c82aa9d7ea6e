"""A relay process for the crash test: ``--crash-before-checkpoint`` dies by SIGKILL after
the broker confirmed the first batch and before the checkpoint moves."""

from __future__ import annotations

import argparse
import os
import signal

from pmp.broker import EventPublisher
from pmp.config import load_settings
from pmp.relay import Relay
from tests.helpers.notes import SERVICE, open_notes


class CrashingRelay(Relay):
    def _checkpoint(self, after: int, through: int) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crash-before-checkpoint", action="store_true")
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    settings = load_settings()
    relay_cls = CrashingRelay if args.crash_before_checkpoint else Relay
    relay = relay_cls(
        open_notes(settings), EventPublisher(settings.amqp_uri, SERVICE), batch_size=args.batch
    )
    relay.create_tables()
    print(f"relayed {relay.relay_all()} events", flush=True)


if __name__ == "__main__":
    main()
