"""``pmp ingest FILE...``: bulk loads of ASAP files, straight into the submissions store.

An operator with shell access loads a backlog or a state's historical data this way: the
same desk as web uploads (same checks, same events, one intake at a time across processes),
without a 20 MB limit or an RPC per file. The running service's relay publishes the events.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

OPERATOR = "operator"


def add_parser(commands) -> None:
    ingest = commands.add_parser("ingest", help="load ASAP files (bulk), with a progress bar")
    ingest.add_argument("files", nargs="+", type=Path, help="ASAP 4.2/4.2A/4.2B files")


def ingest(args) -> int:
    import warnings

    warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from pmp.config import load_settings
    from pmp.db import open_database
    from pmp.envelope import Metadata, NewEvent
    from pmp.eventstore import EventStore
    from pmp.service import system_clock
    from services.submissions import memory
    from services.submissions.desk import Desk
    from services.submissions.schemas import submissions_events

    console = Console(stderr=True)
    missing = [f for f in args.files if not f.is_file()]
    if missing:
        console.print(f"pmp ingest: no such file: {missing[0]}")
        return 2
    settings = load_settings()
    db = open_database(settings, "submissions", pool_size=2)
    store = EventStore(db, submissions_events())
    store.create_tables()
    db.create(memory.metadata)

    class Sink:
        def append(self, stream: str, expected: int | None, changes) -> int:
            metadata = Metadata(occurred_at=system_clock(), actor_id=OPERATOR)
            return store.append(
                stream, expected, [NewEvent(kind, data, metadata) for kind, data in changes]
            )

    with console.status("loading the drug reference and the patient index"):
        desk = Desk(db)
    failed = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        for path in args.files:
            task = progress.add_task(path.name, total=None)
            outcome = desk.ingest(
                path,
                path.name,
                "bulk",
                Sink(),
                progress=lambda n, t=task: progress.update(t, completed=n),
            )
            done = outcome.get("counts", {}).get("records", 0)
            progress.update(task, total=max(done, 1), completed=done)
            failed += outcome["status"] == "rejected"
            console.print(_line(path, outcome), soft_wrap=True)
    db.dispose()
    return 1 if failed else 0


def _line(path: Path, outcome: dict[str, Any]) -> str:
    status = outcome["status"]
    if status == "duplicate":
        return (
            f"{path}: already received as submission {outcome['submission_id']}; not counted again"
        )
    counts = outcome.get("counts", {})
    if status == "rejected":
        return (
            f"{path}: REJECTED, nothing recorded ({outcome['error_count']} structural errors; "
            f"submission {outcome['submission_id']})"
        )
    return (
        f"{path}: {counts.get('recorded', 0):,} recorded, {counts.get('revised', 0):,} revised, "
        f"{counts.get('voided', 0):,} voided, {counts.get('rejected', 0):,} refused "
        f"(submission {outcome['submission_id']})"
    )
