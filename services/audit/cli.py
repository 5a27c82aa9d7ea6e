"""``pmp audit verify``: walk the audit trail's hash chain on this deployment's database.

Prints the number of entries and the head hash, or the first broken entry with why. With
``--held`` and a line the audit service wrote to its heads file (``<date> <entries> <hash>``)
it also checks that the trail still runs through that head. Exit status 0 when intact (and
through the held head), 1 otherwise or when there is no trail yet.
"""

from __future__ import annotations

import sqlalchemy as sa


def add_parser(commands) -> None:
    audit = commands.add_parser("audit", help="check the audit trail")
    actions = audit.add_subparsers(dest="action", required=True)
    verify = actions.add_parser(
        "verify", help="walk the hash chain: the count and head hash, or the first broken entry"
    )
    verify.add_argument(
        "--held", metavar="LINE", help="a line of the heads file: '<date> <entries> <hash>'"
    )


def verify_trail(args) -> int:
    from pmp.config import load_settings
    from pmp.db import open_database
    from services.audit import trail

    held = _held(args.held) if args.held else None
    db = open_database(load_settings(), "audit")
    try:
        with db.read() as conn:
            if not sa.inspect(conn).has_table(trail.entries.name):
                print("no audit trail here yet: the audit service has not started on this database")
                return 1
            verdict = trail.verify(conn)
            found = trail.hash_at(conn, held[0]) if held else None
    finally:
        db.dispose()
    if not verdict.intact:
        print(f"BROKEN at entry {verdict.broken_at}: {verdict.reason}")
        print(f"the {verdict.count:,} entries before it are intact, head hash {verdict.head_hash}")
        return 1
    print(f"intact: {verdict.count:,} entries; head hash {verdict.head_hash}")
    if held:
        if found != held[1]:
            print(f"NOT through the held head: entry {held[0]} is {found or 'missing'}")
            return 1
        print(f"through the held head: entry {held[0]} is {held[1]}")
    return 0


def _held(line: str) -> tuple[int, str]:
    parts = line.split()
    if len(parts) < 2 or not parts[-2].isdigit():
        raise SystemExit(f"--held: {line!r} is not '<date> <entries> <hash>'")
    return int(parts[-2]), parts[-1]
