"""``pmp audit verify``: walk the audit trail's hash chain on this deployment's database.

Prints the number of entries and the head hash (to hold outside the system: tomorrow's run
must show the same hash at the same count, or a later one built on it), or the first broken
entry with why. Exit status 0 when intact, 1 when broken or when there is no trail yet.
"""

from __future__ import annotations

import sqlalchemy as sa


def add_parser(commands) -> None:
    audit = commands.add_parser("audit", help="check the audit trail")
    actions = audit.add_subparsers(dest="action", required=True)
    actions.add_parser(
        "verify", help="walk the hash chain: the count and head hash, or the first broken entry"
    )


def verify_trail(_args) -> int:
    from pmp.config import load_settings
    from pmp.db import open_database
    from services.audit import trail

    db = open_database(load_settings(), "audit")
    try:
        with db.read() as conn:
            if not sa.inspect(conn).has_table(trail.entries.name):
                print("no audit trail here yet: the audit service has not started on this database")
                return 1
            verdict = trail.verify(conn)
    finally:
        db.dispose()
    if verdict.intact:
        print(f"intact: {verdict.count:,} entries; head hash {verdict.head_hash}")
        return 0
    print(f"BROKEN at entry {verdict.broken_at}: {verdict.reason}")
    print(f"the {verdict.count:,} entries before it are intact, head hash {verdict.head_hash}")
    return 1
