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

from benchmarks import relay, store
from benchmarks.common import Result
from pmp.logs import configure_logging

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description="CPMRS platform benchmarks")
    parser.add_argument("--seconds", type=float, default=5.0, help="per measured case")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per case")
    parser.add_argument("--only", default="a,b,c", help="comma-separated: a, b, c")
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

    table = Table(title="CPMRS benchmarks (higher is better)")
    for column in ("", "case", "ours", "peer", "ours/peer", "goal", "met"):
        table.add_column(
            column, justify="right" if column in ("ours", "peer", "ours/peer") else "left"
        )
    for r in results:
        table.add_row(
            r.benchmark,
            r.case,
            f"{r.ours:,.0f} {r.unit}",
            f"{r.peer:,.0f} {r.unit}",
            f"{r.ratio:.2f}x",
            f">= {r.goal_ratio:g}x" if r.goal_ratio else "-",
            ("yes" if r.met else "NO") if r.goal_ratio else "-",
        )
    console.print(table)
    for r in results:
        console.print(f"  ({r.benchmark}) {r.case}: peer is {r.peer_name}; {r.note}")

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
    for name in (f"{stamp}.json", "latest.json"):
        (RESULTS / name).write_text(json.dumps(document, indent=2) + "\n")
    console.print(f"written to {RESULTS / (stamp + '.json')}")


if __name__ == "__main__":
    main()
