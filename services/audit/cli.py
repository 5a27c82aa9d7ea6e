"""``pmp audit verify``: check the audit trail on this deployment's databases.

1. Walk the hash chain: the number of entries and the head hash, or the first broken entry.
2. Check it against every head held in the heads file (``PMP_AUDIT_HEADS_FILE``, written by
   the audit service at start-up and hourly) and ``--held LINE`` if given: entry ``<entries>``
   must still carry the held hash. A trail shorter than a held head lost its tail; a held
   hash that no longer matches means the chain was rewritten at or before that entry, even
   if it was re-hashed so the walk alone finds nothing.
3. With ``--sources``, compare the trail with each service's own event store
   (``sources.py``), so an event altered in a service's store is named.

The stores are read directly with this deployment's settings, like the trail itself, not by
RPC: the check works with the services stopped (after an incident, on a restored backup)
and does not ask the running system to vouch for itself. Exit status 0 when all is intact,
1 otherwise or when there is no trail yet.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa


def add_parser(commands) -> None:
    audit = commands.add_parser("audit", help="check the audit trail")
    actions = audit.add_subparsers(dest="action", required=True)
    verify = actions.add_parser(
        "verify",
        help="walk the hash chain and check it against the held heads: the count and head "
        "hash, or the first broken entry or missing tail",
    )
    verify.add_argument(
        "--held", metavar="LINE", help="a head line held elsewhere: '<time> <entries> <hash>'"
    )
    verify.add_argument(
        "--sources",
        action="store_true",
        help="also compare the trail with each service's own event store",
    )


def verify_trail(args) -> int:
    from pmp.config import load_settings

    return 0 if verify(load_settings(), args.held, args.sources) else 1


def verify(settings, held_line: str | None = None, sources: bool = False) -> bool:
    """The whole verification, printed; True when all is intact (``pmp check`` runs it
    too)."""
    from pmp.db import open_database
    from services.audit import trail
    from services.audit.heads import HeldHead, read_heads

    heads = read_heads(settings.audit_heads_file)
    held = HeldHead.parse(held_line) if held_line else None
    if held_line and held is None:
        raise SystemExit(f"--held: {held_line!r} is not '<time> <entries> <hash>'")
    db = open_database(settings, "audit")
    try:
        with db.read() as conn:
            if not sa.inspect(conn).has_table(trail.entries.name):
                print("no audit trail here yet: the audit service has not started on this database")
                return False
            verdict = trail.verify(conn)
            ok = _report_chain(verdict)
            ok = _report_heads(conn, heads, held, settings.audit_heads_file) and ok
            if sources:
                ok = _report_sources(conn, settings) and ok
    finally:
        db.dispose()
    return ok


def _report_chain(verdict) -> bool:
    if not verdict.intact:
        print(f"BROKEN at entry {verdict.broken_at}: {verdict.reason}")
        print(f"the {verdict.count:,} entries before it are intact, head hash {verdict.head_hash}")
        return False
    print(f"intact: {verdict.count:,} entries; head hash {verdict.head_hash}")
    return True


def _report_heads(conn, heads: list, held, path: Path) -> bool:
    """Each held head must still be a prefix of the trail: the same hash at its count."""
    from services.audit import trail

    if not heads and held is None:
        print(f"no held heads in {path}: a deleted tail or a chain rewritten whole cannot be seen")
        return True
    top = conn.scalar(sa.select(sa.func.max(trail.entries.c.n))) or 0
    through = None
    for head in sorted([*heads, *([held] if held else [])], key=lambda h: h.count):
        if head.count > top:
            print(
                f"NOT through the head held at {head.stamp}: it held {head.count:,} entries, "
                f"the trail has {top:,}: entries {top + 1:,} to {head.count:,} were deleted"
            )
            return False
        found = trail.hash_at(conn, head.count)
        if found != head.hash:
            after = f"after entry {through.count:,}" if through else "from its start"
            print(
                f"NOT through the head held at {head.stamp}: entry {head.count:,} is "
                f"{found or 'missing'}, held {head.hash}; the chain was rewritten {after}, "
                f"at or before entry {head.count:,}"
            )
            return False
        through = head
    if heads:
        newest = max(heads, key=lambda h: h.count)
        print(f"through {len(heads):,} held heads of {path} (the newest, {newest.stamp}: "
              f"entry {newest.count:,})")  # fmt: skip
    if held:
        print(f"through the held head: entry {held.count} is {held.hash}")
    return True


def _report_sources(conn, settings) -> bool:
    from pmp.db import open_database
    from pmp.eventstore import EventStore, events
    from pmp.topology import SERVICES
    from services.audit.sources import compare

    ok = True
    for spec in SERVICES:
        if settings.embedded and not (settings.data_dir / f"{spec.name}.sqlite").exists():
            print(f"{spec.name}: no event store here")
            continue
        db = open_database(settings, spec.name, pool_size=1)
        try:
            with db.read() as store_conn:
                if not sa.inspect(store_conn).has_table(events.name):
                    print(f"{spec.name}: no event store here")
                    continue
            store = EventStore(db, spec.load().kernel.registry)
            result = compare(conn, spec.name, store)
        finally:
            db.dispose()
        pending = f", {result.not_chained_yet:,} not chained yet" if result.not_chained_yet else ""
        if not result.findings:
            print(f"{spec.name}: {result.compared:,} events as in the trail{pending}")
            continue
        ok = False
        print(f"{spec.name}: {len(result.findings):,} events differ from the trail{pending}")
        for finding in result.findings[:20]:
            print(f"  DIFFERS: {finding}")
        if len(result.findings) > 20:
            print(f"  ... and {len(result.findings) - 20:,} more")
    return ok
