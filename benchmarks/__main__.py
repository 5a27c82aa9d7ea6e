"""``python -m benchmarks``: run every benchmark, print a table, write JSON results."""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks import audit, ingest, patients, query, relay, store
from benchmarks.common import Result
from pmp.logs import configure_logging

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description="CPMRS platform benchmarks")
    parser.add_argument("--seconds", type=float, default=5.0, help="per measured case")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per case")
    parser.add_argument("--only", default="a,b,c,d,e,f,g", help="comma-separated: a to g")
    parser.add_argument(
        "--ingest-records", type=int, default=ingest.RECORDS, help="records in (e)'s file"
    )
    parser.add_argument(
        "--query-records",
        type=int,
        default=query.RECORDS,
        help="dispensations loaded for (f)",
    )
    parser.add_argument(
        "--query-backends", default=",".join(query.BACKENDS), help="(f)'s backends, comma-separated"
    )
    args = parser.parse_args()
    chosen = set(args.only.split(","))
    configure_logging("bench", "WARNING")
    console = Console(width=120)

    results: list[Result] = []
    if chosen & {"a", "b"}:
        with console.status("(a), (b): event store against the eventsourcing recorder"):
            results += store.run(args.seconds, args.repeats, frozenset(chosen))
    if "c" in chosen:
        with console.status("(c): relay against raw kombu publishing"):
            results += relay.run()
    if "d" in chosen:
        with console.status("(d): patient index on a generated identity set"):
            results += patients.run()
    if "e" in chosen:
        with console.status(f"(e): pmp ingest of {args.ingest_records:,} records"):
            results += ingest.run(args.ingest_records)
    if "f" in chosen:
        with console.status(f"(f): search and report with {args.query_records:,} dispensations"):
            results += query.run(args.query_records, tuple(args.query_backends.split(",")))
    if "g" in chosen:
        with console.status("(g): audit trail against the plain event store"):
            results += audit.run(args.repeats)

    table = Table(title="CPMRS benchmarks (higher is better, except where the goal is <=)")
    for column in ("", "case", "ours", "peer", "ours/peer", "goal", "met"):
        table.add_column(
            column, justify="right" if column in ("ours", "peer", "ours/peer") else "left"
        )
    for r in results:
        digits = 2 if r.unit in ("%", "s") else 0
        bound = "<=" if r.lower_is_better else ">="
        goal = f">= {r.goal_ratio:g}x" if r.peer else f"{bound} {r.goal:,g} {r.unit}"
        table.add_row(
            r.benchmark,
            r.case,
            f"{r.ours:,.{digits}f} {r.unit}",
            f"{r.peer:,.0f} {r.unit}" if r.peer else "-",
            f"{r.ratio:.2f}x" if r.peer else "-",
            goal if r.has_goal else "-",
            ("yes" if r.met else "NO") if r.has_goal else "-",
        )
    console.print(table)
    for r in results:
        console.print(f"  ({r.benchmark}) {r.case}: peer is {r.peer_name}; {r.note}")
        for line in r.details:
            console.print(f"      {line}", highlight=False)

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    document = {
        "run_at": stamp,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "seconds_per_run": args.seconds,
        "repeats": args.repeats,
        "results": [r.to_json() for r in results],
    }
    (RESULTS / f"{stamp}.json").write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / "latest.json").write_text(json.dumps(_merged(document), indent=2) + "\n")
    console.print(f"written to {RESULTS / (stamp + '.json')}")


def _merged(document: dict) -> dict:
    """``latest.json``: the newest result of every case, so a run of some cases (``--only``)
    does not drop the others'."""
    latest = RESULTS / "latest.json"
    earlier = json.loads(latest.read_text())["results"] if latest.exists() else []
    fresh = {(r["benchmark"], r["case"]) for r in document["results"]}
    kept = [r for r in earlier if (r["benchmark"], r["case"]) not in fresh]
    return {**document, "results": kept + document["results"]}


if __name__ == "__main__":
    main()
