"""``pmp check``: the operators' consistency check across the services' databases.

After an incident (a crash, an outage, a restore) an operator wants one answer: is every
dispensation the pharmacies had recorded where it should be, once, and is the audit trail
whole? This command reads each service's database directly with this deployment's settings,
as ``pmp audit verify --sources`` does, so it needs no running service and does not ask the
system to vouch for itself:

- the submissions store: dispensations recorded minus voided, and any recorded twice (one
  id twice, or one key under two ids: ``services/submissions/tally.py``);
- the query read model (``query.patient_history``) and the alerts watch (``alerts.watch``):
  the same ids, none missing, none extra;
- the audit trail: per source, every event its store held at the check's first look
  chained, each position once (no hole, no duplicate); a live system's newer events (each
  search is one) are counted, not faulted, as the trail is always a moment behind them;
- events set aside by any projection or reaction and not dismissed (what they carried is
  missing downstream: the check says so rather than pass);
- then, once all that agrees, ``pmp audit verify --sources`` (chain, held heads, stores).

``--wait SECONDS`` looks again every second until everything agrees or the time is up,
and says how long it took to converge. Exit status 0 only when consistent.
"""

from __future__ import annotations

import contextlib
import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from pmp.config import Settings, load_settings
from pmp.db import Database, open_database
from pmp.eventstore import EventStore
from pmp.topology import SERVICES, spec_of

SHOWN = 5  # problems named per part; the rest counted


@dataclass
class Part:
    """One line of the table: a store or read model, its count, and what is wrong with it."""

    name: str
    count: int | None
    problems: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def add_parser(commands) -> None:
    check = commands.add_parser(
        "check",
        help="consistency across the submissions store, query, alerts and the audit trail",
    )
    check.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="look again until consistent or this many seconds have passed",
    )


def run(args) -> int:
    settings = load_settings()
    console = Console()
    started = time.monotonic()
    with Databases(settings) as databases:
        check = Consistency(databases)
        while True:
            parts = check.look()
            if all(p.ok for p in parts):
                parts.append(check.audit_verification(settings))
            done = all(p.ok for p in parts)
            if done or time.monotonic() - started >= args.wait:
                break
            time.sleep(1.0)
    elapsed = time.monotonic() - started
    _print(console, parts)
    if done:
        console.print(f"consistent; converged in {elapsed:.1f} s")
        return 0
    console.print(f"NOT consistent after {elapsed:.1f} s")
    return 1


class Databases:
    """Each service's database, opened once for all the looks (None: none here yet)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.opened: dict[str, Database] = {}

    def __enter__(self) -> Databases:
        return self

    def __exit__(self, *exc: object) -> None:
        for db in self.opened.values():
            db.dispose()

    def get(self, service: str) -> Database | None:
        if service not in self.opened:
            file = self.settings.data_dir / f"{service}.sqlite"
            if self.settings.embedded and not file.exists():
                return None
            self.opened[service] = open_database(self.settings, service, pool_size=1)
        return self.opened[service]

    def store(self, service: str) -> EventStore | None:
        db = self.get(service)
        if db is None or not _has(db, "events"):
            return None
        return EventStore(db, spec_of(service).load().kernel.registry)


class Consistency:
    """The looks of one ``pmp check``; what the submissions store held is kept between
    them (it only grows), and so is each store's head at the first look."""

    def __init__(self, databases: Databases):
        from services.submissions.tally import Recorded

        self.databases = databases
        self.recorded = Recorded()
        self.first_heads: dict[str, int] = {}  # each store's head at the first look

    def look(self) -> list[Part]:
        return [
            self._submissions(),
            *self._read_models(),
            *self._audit(),
            self._set_aside(),
        ]

    def _submissions(self) -> Part:
        store = self.databases.store("submissions")
        if store is None:
            return Part("submissions store", None, note="no store here yet")
        self.recorded.read_more(store)
        doubled = [str(d) for d in self.recorded.doubled]
        return Part(
            "submissions store",
            len(self.recorded.live),
            _named(doubled, "recorded twice"),
            "dispensations recorded minus voided",
        )

    def _read_models(self) -> Iterator[Part]:
        from services.alerts.watch import medications
        from services.query.history import dispensations

        models = (
            ("query.patient_history", "query", dispensations, ~dispensations.c.voided),
            ("alerts.watch", "alerts", medications, sa.true()),
        )
        for name, service, table, where in models:
            db = self.databases.get(service)
            if db is None or not _has(db, table.name):
                yield Part(name, None, [f"no read model {table.name} yet"])
                continue
            with db.read() as conn:
                ids = {
                    uuid.UUID(i).int
                    for i in conn.scalars(sa.select(table.c.dispensation_id).where(where))
                }
            missing = sorted(str(uuid.UUID(int=i)) for i in self.recorded.live - ids)
            extra = sorted(str(uuid.UUID(int=i)) for i in ids - self.recorded.live)
            yield Part(
                name,
                len(ids),
                _named(missing, "missing (in the store, not here)")
                + _named(extra, "extra (here, not recorded in the store or voided)"),
                "dispensations",
            )

    def _audit(self) -> Iterator[Part]:
        """Each source's chained events against its store. On a live system the trail is
        always a moment behind a busy store (each search is an event), so it is measured
        against the store's head at this check's first look: everything a store held when
        the check began must be chained, once; what came later is counted, not faulted."""
        from services.audit import trail

        db = self.databases.get("audit")
        if db is None or not _has(db, trail.entries.name):
            yield Part("audit trail", None, ["no audit trail yet"])
            return
        stores = {spec.name: self.databases.store(spec.name) for spec in SERVICES}
        for name, store in stores.items():  # before the trail is read: see the docstring
            if name not in self.first_heads:
                self.first_heads[name] = store.head_position() if store else 0
        entries = trail.entries.c
        with db.read() as conn:
            per_source = {
                row.source: row
                for row in conn.execute(
                    sa.select(
                        entries.source,
                        sa.func.count().label("entries"),
                        sa.func.count(sa.distinct(entries.source_position)).label("positions"),
                        sa.func.max(entries.source_position).label("top"),
                    ).group_by(entries.source)
                )
            }
        for name, store in stores.items():
            head = store.head_position() if store else 0  # after the trail: it only grows
            first = self.first_heads[name]
            row = per_source.get(name)
            count, positions, top = (row.entries, row.positions, row.top) if row else (0, 0, 0)
            problems = []
            if count > positions:
                problems.append(f"{count - positions} events chained twice")
            if positions < top:
                problems.append(f"a hole: {top - positions} positions below {top} not chained")
            if top < first:
                problems.append(f"behind: chained to {top}, the store was at {first}")
            if top > head:
                problems.append(f"ahead: chained to {top}, the store has only {head}")
            note = f"store events {head}"
            if first <= top < head:
                note += f"; {head - top} newer than the check's first look not chained yet"
            yield Part(f"audit trail: {name}", count, problems, note)

    def _set_aside(self) -> Part:
        """Events a projection or reaction went past: what they held is missing downstream
        until an operator retries them after a fix (``pmp projections set-aside``)."""
        from pmp import setaside

        found: dict[str, int] = {}
        for spec in SERVICES:
            db = self.databases.get(spec.name)
            if db is not None and _has(db, setaside.set_aside.name):
                with db.read() as conn:
                    found |= setaside.counts(conn)
        problems = [f"{consumer}: {n} events set aside" for consumer, n in sorted(found.items())]
        return Part("set aside (not dismissed)", sum(found.values()), problems)

    def audit_verification(self, settings: Settings) -> Part:
        """``pmp audit verify --sources``, its report kept for the table."""
        from services.audit.cli import verify

        with contextlib.redirect_stdout(io.StringIO()) as out:
            intact = verify(settings, sources=True)
        lines = out.getvalue().splitlines()
        return Part(
            "pmp audit verify --sources",
            None,
            [] if intact else [line for line in lines if line.strip()],
            lines[0] if lines else "",
        )


def _has(db: Database, table: str) -> bool:
    with db.read() as conn:
        return sa.inspect(conn).has_table(table)


def _named(ids: list[str], what: str) -> list[str]:
    if not ids:
        return []
    more = f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
    return [f"{len(ids)} {what}: {', '.join(ids[:SHOWN])}{more}"]


def _print(console: Console, parts: list[Part]) -> None:
    table = Table(title="pmp check")
    table.add_column("part")
    table.add_column("count", justify="right")
    table.add_column("state")
    for part in parts:
        count = "" if part.count is None else f"{part.count:,}"
        state = "ok" if part.ok else "; ".join(part.problems)
        note = f"  ({part.note})" if part.note and part.ok else ""
        table.add_row(part.name, count, state + note)
    console.print(table)
    for part in parts:  # also whole, one a line: a narrow terminal wraps the table's cells
        for problem in part.problems:
            console.print(f"PROBLEM {part.name}: {problem}", soft_wrap=True, highlight=False)
