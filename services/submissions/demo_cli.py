"""``pmp demo-data --out DIR``: writes the synthetic demo ASAP files (see ``demo.py``)."""

from __future__ import annotations

from pathlib import Path


def add_parser(commands) -> None:
    demo = commands.add_parser(
        "demo-data", help="write synthetic ASAP files (with risky patients) for a demo"
    )
    demo.add_argument("--out", type=Path, required=True, help="folder to write into")
    demo.add_argument("--seed", type=int, default=0, help="same seed, same files (default 0)")
    demo.add_argument("--patients", type=int, default=400, help="persons (default 400)")
    demo.add_argument("--months", type=int, default=6, help="months, at least 4 (default 6)")


def run(args) -> int:
    import sys
    import time
    from datetime import date

    from services.submissions.demo import MANIFEST, RISK_KINDS, load_manifest, write_demo_files
    from services.submissions.demo_registry import write_registry_demo

    started = time.perf_counter()
    try:
        paths = write_demo_files(args.out, args.seed, patients=args.patients, months=args.months)
    except ValueError as exc:
        print(f"pmp demo-data: {exc}", file=sys.stderr)
        return 2
    manifest = load_manifest(args.out)
    registry = write_registry_demo(Path(args.out), manifest, date.today())
    files = manifest["files"]
    size = sum(f["bytes"] for f in files)
    zero = sum(f["zero_report"] for f in files)
    print(
        f"{len(paths)} ASAP 4.2 files in {args.out} ({size:,} bytes; {zero} zero reports), "
        f"{manifest['records']:,} dispensations of {manifest['patients']:,} patients, "
        f"{manifest['start']} to {manifest['end']}, "
        f"{len(manifest['pharmacies'])} pharmacies, {len(manifest['prescribers'])} prescribers "
        f"({time.perf_counter() - started:.1f} s)"
    )
    names = {p["id"]: p["name"] for p in manifest["persons"]}
    print("risky patients:")
    for kind in RISK_KINDS:
        ids = manifest["risky"][kind]
        listed = ", ".join(f"{i} {names[i]}" for i in ids[:5])
        more = f", and {len(ids) - 5} more" if len(ids) > 5 else ""
        print(f"  {kind}: {len(ids)}: {listed}{more}")
    print(
        f"medical marijuana registry: {registry['cards']} cards in {registry['registry']} "
        f"(load with: pmp mm import {registry['registry']}), their dispensary's purchases in "
        f"{registry['dispensary']}"
    )
    print(f"who is who: {Path(args.out) / MANIFEST}; load with: pmp ingest {args.out}/*.dat")
    return 0


#: The set ``pmp up --demo`` (``make run``) loads: small, so the first start takes seconds.
FIRST_RUN = {"seed": 0, "patients": 300, "months": 4}
FIRST_RUN_FOLDER = "demo-first-run"


def load_first_run_demo(settings) -> str:
    """Loads a small demo set into the embedded stores if the submissions store has received
    no file yet (so never twice); returns one line saying what was done."""
    import time
    from datetime import date

    from services.query.mm_cli import load_registry_file
    from services.submissions.cli import BulkLoad
    from services.submissions.demo import MANIFEST, load_manifest, recent_start, write_demo_files
    from services.submissions.demo_registry import write_registry_demo

    if not settings.embedded:
        return "demo data: not loaded (PMP_DATABASE_URL is set; demo data is for embedded mode)"
    started = time.perf_counter()
    load = BulkLoad(settings)
    try:
        if load.has_submissions():
            return "demo data: not loaded (the submissions store already holds submissions)"
        folder = settings.data_dir / FIRST_RUN_FOLDER
        start = recent_start(FIRST_RUN["months"], date.today())  # reports show it by default
        paths = write_demo_files(folder, **FIRST_RUN, start=start)
        recorded = files = 0
        for path in paths:
            outcome = load.ingest(path)
            recorded += outcome.get("counts", {}).get("recorded", 0)
            files += outcome["status"] == "accepted"
        manifest = load_manifest(folder)
        registry = write_registry_demo(folder, manifest, date.today())
        purchases = load.ingest(registry["dispensary"]).get("counts", {}).get("marijuana", 0)
    finally:
        load.close()
    cards = load_registry_file(settings, registry["registry"])["counts"]["registered"]
    return (
        f"demo data loaded: {recorded:,} dispensations of {manifest['patients']:,} patients "
        f"from {files} ASAP files in {folder} ({time.perf_counter() - started:.1f} s); "
        f"patients to look up: {folder / MANIFEST}; medical marijuana registry: {cards} cards "
        f"(verify {registry['valid']}: valid, {registry['expired']}: expired) and "
        f"{purchases} dispensary purchases"
    )
