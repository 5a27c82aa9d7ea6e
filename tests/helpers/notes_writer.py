"""A writer process: ``python -m tests.helpers.notes_writer NAME COUNT`` appends COUNT notes
to the notes store, one commit each, and prints their ids, one per line."""

from __future__ import annotations

import sys

from pmp.config import load_settings
from tests.helpers.notes import open_notes, write_notes


def main() -> None:
    name, count = sys.argv[1], int(sys.argv[2])
    store = open_notes(load_settings())
    for event_id in write_notes(store, count, stream=f"writer-{name}"):
        print(event_id, flush=True)


if __name__ == "__main__":
    main()
