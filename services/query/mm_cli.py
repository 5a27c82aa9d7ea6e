"""``pmp mm import FILE``: an administrator with shell access loads the medical marijuana
registry file (the layout: ``docs/mm-registry.md``) straight into the query service's store,
with a progress bar, then a report naming the line and field of each refused row.

Good rows are recorded whatever the bad ones; loading the same file again records nothing
new. The running query service's relay publishes the events and its projector indexes them.
"""

from __future__ import annotations

from pathlib import Path

OPERATOR = "operator"


def add_parser(commands) -> None:
    mm = commands.add_parser("mm", help="the medical marijuana registry")
    actions = mm.add_subparsers(dest="action", required=True)
    load = actions.add_parser("import", help="load a registry file (CSV), with a progress bar")
    load.add_argument("file", type=Path, help="CSV in the documented layout")


class NotText(ValueError):
    """The file stopped being UTF-8 text after ``lines`` lines (those were recorded)."""

    def __init__(self, lines: int):
        super().__init__(f"the file is not UTF-8 text ({lines} read)")


def load_registry_file(settings, path: Path, progress=None) -> dict:
    """Load ``path`` into the query service's store as the operator (``pmp mm import``, and
    the demo data of ``pmp up --demo``): the outcome, counts and refused lines. Raises
    ``FileRefused`` (nothing recorded) or ``NotText``."""
    from pmp.db import open_database
    from pmp.envelope import Metadata, NewEvent
    from pmp.eventstore import EventStore
    from pmp.service import system_clock
    from services.query.mm_registry import RegistryImport
    from services.query.schemas import query_events

    db = open_database(settings, "query", pool_size=2)
    try:
        store = EventStore(db, query_events())
        store.create_tables()

        def append(stream: str, expected: int | None, changes) -> int:
            metadata = Metadata(occurred_at=system_clock(), actor_id=OPERATOR)
            return store.append(
                stream, expected, [NewEvent(kind, data, metadata) for kind, data in changes]
            )

        today = system_clock().astimezone(settings.timezone).date()
        load = RegistryImport(store, append, path.name, today)
        with path.open(encoding="utf-8-sig", newline="") as f:
            try:
                return load.run(f, progress=progress)
            except UnicodeDecodeError:
                raise NotText(load.counts["lines"]) from None
    finally:
        db.dispose()


def run(args) -> int:
    import warnings

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from pmp.config import load_settings
    from services.query.mm_registry import FileRefused

    warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")
    console = Console(stderr=True)
    path: Path = args.file
    if not path.is_file():
        console.print(f"pmp mm import: no such file: {path}")
        return 2
    settings = load_settings()
    with path.open(encoding="utf-8-sig", newline="", errors="replace") as f:
        total = max(sum(1 for _ in f) - 1, 0)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} lines"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(path.name, total=total)
            outcome = load_registry_file(
                settings, path, progress=lambda n: progress.update(task, completed=n)
            )
            progress.update(task, completed=total)
    except FileRefused as exc:
        console.print(f"{path}: REFUSED, nothing recorded: {exc}", soft_wrap=True)
        return 2
    except NotText as exc:
        console.print(f"{path}: REFUSED: {exc}")
        return 2
    c = outcome["counts"]
    console.print(
        f"{path}: {c['registered']:,} registered, {c['renewed']:,} renewed, "
        f"{c['revoked']:,} revoked, {c['corrected']:,} corrected, {c['unchanged']:,} unchanged, "
        f"{c['refused']:,} lines refused",
        soft_wrap=True,
    )
    for e in outcome["errors"]:
        field = "the line" if e["field"] == "_line" else e["field"]
        said = f' "{e["value"]}"' if e["value"] else ""
        console.print(f"  line {e['line']}, {field}{said}: {e['message']}", soft_wrap=True,
                      markup=False, highlight=False)  # fmt: skip
    return 1 if c["refused"] else 0
