"""One replica of the notes projector: ``python -m tests.helpers.projector_worker NAME``.

It competes for leadership with the other replicas and applies notes while it leads.
"""

from __future__ import annotations

import signal
import sys
import threading

from pmp.config import load_settings
from pmp.projector import Projector
from pmp.sources import StoreSource
from tests.helpers.notes import SERVICE, NoteIndex, open_notes


def main() -> None:
    replica = sys.argv[1]
    settings = load_settings()
    store = open_notes(settings)
    projector = Projector(store.db, NoteIndex(replica), {SERVICE: StoreSource(store)})
    projector.create_tables()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"replica {replica} running", flush=True)
    projector.run(stop, threading.Event(), poll_interval=0.1)


if __name__ == "__main__":
    main()
