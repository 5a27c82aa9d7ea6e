"""``pmp ingest FILE...``: bulk loads of ASAP files, straight into the submissions store.

An operator with shell access loads a backlog or a state's historical data this way: the
same desk as web uploads (same checks, same events, one intake at a time across processes),
without a 20 MB limit or an RPC per file. The running service's relay publishes the events.
``pmp up --demo`` loads the first-run demo files through the same ``BulkLoad``.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

OPERATOR = "operator"
SHOWN_ERRORS = 20  # printed; the whole report goes to a CSV beside the file


def add_parser(commands) -> None:
    ingest = commands.add_parser("ingest", help="load ASAP files (bulk), with a progress bar")
    ingest.add_argument("files", nargs="+", type=Path, help="ASAP 4.2/4.2A/4.2B files")


class BulkLoad:
    """The submissions store and a desk, in this process, appending as the operator."""

    def __init__(self, settings) -> None:
        import warnings

        warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")
        from pmp.db import open_database
        from pmp.eventstore import EventStore
        from services.submissions import memory
        from services.submissions.schemas import submissions_events

        self.db = open_database(settings, "submissions", pool_size=2)
        self.store = EventStore(self.db, submissions_events())
        self.store.create_tables()
        self.db.create(memory.metadata)
        self._desk = None

    def desk(self):
        """The desk (the drug reference and the patient index: made on first use)."""
        from services.submissions.desk import Desk

        if self._desk is None:
            self._desk = Desk(self.db)
        return self._desk

    def has_submissions(self) -> bool:
        """Whether any file was ever received (accepted, tested, rejected, by any channel)."""
        import sqlalchemy as sa

        from pmp.eventstore import events

        query = sa.select(events.c.event_id).where(events.c.type == "SubmissionReceived")
        with self.db.read() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def ingest(
        self, path: Path, progress: Callable[[int], None] | None = None, **options: Any
    ) -> dict[str, Any]:
        """The desk's outcome for the file at ``path`` (see ``Desk.ingest``, which takes
        ``options`` too)."""
        from pmp.service import system_clock

        return self.desk().ingest(
            path, path.name, "bulk", self, system_clock(), progress=progress, **options
        )

    def error_report(self, submission_id: str) -> list[dict[str, Any]]:
        """The file's whole error report, as the upload pages show it."""
        return self.desk().tables.errors(submission_id)

    def metadata(self):  # the intake's recorder (``ledger.Recorder``): as the operator
        from pmp.envelope import Metadata
        from pmp.service import system_clock

        return Metadata(occurred_at=system_clock(), actor_id=OPERATOR)

    def events_appended(self) -> None:
        """Nothing to wake here: the running service's relay finds the events by polling."""

    def close(self) -> None:
        self.db.dispose()


def ingest(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from pmp.config import load_settings
    from services.submissions.desk import failure
    from services.submissions.reading import read_in_worker

    # A shell starts a background job (``pmp ingest big.dat &``) with SIGINT ignored; an
    # operator's kill -INT must still stop it in order, with its one line of what is stored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    console = Console(stderr=True)
    missing = [f for f in args.files if not f.is_file()]
    if missing:
        console.print(f"pmp ingest: no such file: {missing[0]}")
        return 2
    try:
        load = BulkLoad(load_settings())
        with console.status("loading the drug reference and the patient index"):
            load.desk()
    except Exception as exc:  # the database is unreachable, refuses writes, disk full...
        console.print(f"pmp ingest: the submissions store cannot be used ({failure(exc)}); "
                      "nothing was loaded", soft_wrap=True, markup=False)  # fmt: skip
        return 1
    except KeyboardInterrupt:
        console.print("pmp ingest: stopped by the operator (Ctrl-C); nothing was loaded")
        return 130
    failed = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        for number, path in enumerate(args.files):
            task = progress.add_task(path.name, total=None)
            try:
                try:
                    outcome = load.ingest(
                        path,
                        progress=lambda n, t=task: progress.update(t, completed=n),
                        read=read_in_worker,  # a second process reads while this one records
                    )
                except Exception as exc:  # before its intake began: the lock, the index, the file
                    outcome = _not_loaded(failure(exc))
                done = outcome.get("counts", {}).get("records", 0)
                progress.update(task, total=max(done, 1), completed=done)
                failed += outcome["status"] in {"rejected", "interrupted"}
                console.print(_line(path, outcome), soft_wrap=True, markup=False)
                if _reported(outcome) and (report := load.error_report(outcome["submission_id"])):
                    console.print(_report(path, report), soft_wrap=True, markup=False)
            except KeyboardInterrupt:  # wherever it lands: in the intake, or around it
                console.print(_line(path, _after_ctrl_c(load, path)), soft_wrap=True, markup=False)
                if rest := args.files[number + 1 :]:
                    console.print(f"pmp ingest: not started: {', '.join(map(str, rest))}",
                                  soft_wrap=True, markup=False)  # fmt: skip
                return 130
    load.close()
    return 1 if failed else 0


def _line(path: Path, outcome: dict[str, Any]) -> str:
    """The one line a file gets: what became of it and, if it did not finish, what is stored
    and what sending it again does."""
    status, submission = outcome["status"], outcome.get("submission_id")
    test = outcome.get("test_file")
    if status == "duplicate" and test:
        return f"{path}: test file already checked as submission {submission}; its report stands"
    if status == "duplicate":
        return f"{path}: already received as submission {submission}; not counted again"
    counts = outcome.get("counts", {})
    if status == "tested":
        return f"{path}: {outcome['summary']} (submission {submission})"
    if status == "interrupted" and test:
        return (
            f"{path}: NOT FINISHED ({outcome['reason']}): a test file, nothing of it recorded; "
            f"{counts.get('records', 0):,} records checked (submission {submission}). Run pmp "
            "ingest on the same file again for its whole report: it continues where it stopped"
        )
    if status == "interrupted" and submission is None:
        return (
            f"{path}: NOT LOADED ({outcome['reason']}); nothing more of it was stored. "
            "Run pmp ingest on the same file again: nothing is recorded twice"
        )
    if status == "interrupted":
        return (
            f"{path}: NOT FINISHED ({outcome['reason']}). Stored so far, once: "
            f"{counts.get('records', 0):,} records read, {_tally(counts)} "
            f"(submission {submission}). Run pmp ingest on the same file again to finish it: "
            "it continues where it stopped and records nothing twice"
        )
    if status == "rejected":
        return (
            f"{path}: REJECTED{', a test file' if test else ''}, nothing recorded "
            f"({outcome['error_count']:,} errors in its report; submission {submission})"
        )
    earlier = outcome.get("continued") or 0
    resumed = f"finished (continued after {earlier:,} records stored before); " if earlier else ""
    return f"{path}: {resumed}{_tally(counts)} (submission {submission})"


def _after_ctrl_c(load: BulkLoad, path: Path) -> dict[str, Any]:
    """What the store holds of the file Ctrl-C stopped, read back rather than remembered:
    the commit of its last chunk, or its outcome, may have landed after the intake last
    heard. A file that finished says so; one that did not says what is stored."""
    reason = "stopped by the operator (Ctrl-C)"
    try:
        standing = load.desk().standing(path, OPERATOR)
    except Exception:  # the store went too: what the intake last saw
        standing = load.desk().stopped
    return {**standing, "reason": reason} if standing else _not_loaded(reason)


def _not_loaded(reason: str) -> dict[str, Any]:
    return {"submission_id": None, "status": "interrupted", "reason": reason}


def _tally(counts: dict[str, Any]) -> str:
    return (
        f"{counts.get('recorded', 0):,} recorded, {counts.get('revised', 0):,} revised, "
        f"{counts.get('voided', 0):,} voided, {counts.get('rejected', 0):,} refused"
    )


def _reported(outcome: dict[str, Any]) -> bool:
    """Whether the file has a report to show (an interrupted one is resent for its own)."""
    return bool(outcome.get("submission_id")) and outcome["status"] != "interrupted"


def _report(path: Path, report: list[dict[str, Any]]) -> str:
    """The first errors, each where the pharmacy finds it, and the first notes (names read
    as Latin-1, kept); then where the whole report is: a CSV beside the file (the same
    columns as the pages' CSV), or the page if the file's folder cannot be written."""
    from services.submissions.error_report import errors_and_notes, report_csv

    errors, notes = errors_and_notes(report)
    lines = _first(errors, "", "more")
    lines += _first(notes, "note: ", "more notes")
    csv_path = path.with_name(path.name + ".errors.csv")
    said = _counted(len(errors), "error") + (
        f" and {_counted(len(notes), 'note')}" if notes else ""
    )
    try:
        csv_path.write_text(report_csv(report), encoding="utf-8", newline="")
        lines.append(f"  all {said}: {csv_path}")
    except OSError as exc:
        lines.append(f"  the whole report is on the submission's page ({exc.strerror}: {csv_path})")
    return "\n".join(lines)


def _counted(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _first(lines: list[dict[str, Any]], kind: str, more: str) -> list[str]:
    from services.submissions.error_report import place

    shown = [f"  {kind}{place(e)}, {_where(e)}: {e['message']}" for e in lines[:SHOWN_ERRORS]]
    if len(lines) > SHOWN_ERRORS:
        shown.append(f"  ... and {len(lines) - SHOWN_ERRORS:,} {more}")
    return shown


def _where(error: dict[str, Any]) -> str:
    field = error["field"] or error["segment"]
    return f"{field} {error['value']!r}" if error["value"] else field
