"""The audit trail's head: a line in a file outside the database at start-up and hourly, and
an email once a day; ``pmp audit verify`` checking the trail still runs through every held
head (and ``--held``), and ``--sources`` comparing it with the services' own stores."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import sqlalchemy as sa

from pmp import diagnostics
from pmp.config import load_settings
from pmp.db import open_database, open_postgresql, open_sqlite
from pmp.envelope import Metadata, NewEvent, RecordedEvent
from pmp.eventstore import EventStore, appends
from pmp.eventstore import events as store_events
from pmp.mail import Mailer
from services.audit import trail
from services.audit.chain import GENESIS, link
from services.audit.heads import read_heads, write_head
from services.audit.sources import compare
from services.identity.service import IdentityService
from tests.helpers.accounts import create_first_administrator, ready
from tests.helpers.commands import pmp
from tests.helpers.processes import wait_until
from tests.helpers.smtp import running_smtp_server
from tests.helpers.stack import Stack
from tests.infrastructure import drop_schemas
from tests.integration.test_stack import open_service_db

AUDITOR = "chief.auditor@state.example"


def events(first: int, last: int) -> list[RecordedEvent]:
    return [
        RecordedEvent(
            uuid.uuid4(), "account-1", n, n, "PasswordChanged", {"n": n}, 1,
            Metadata(occurred_at=datetime(2026, 11, 1, tzinfo=UTC), actor_id="u-1"),
        )
        for n in range(first, last + 1)
    ]  # fmt: skip


def trail_of(tmp_path, count: int):
    db = open_sqlite(tmp_path / "audit.sqlite")
    db.create(trail.metadata)
    with db.write() as conn:
        trail.append(conn, "identity", events(1, count))
    return db


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def test_a_head_each_time_it_is_due_the_day_s_first_emailed(tmp_path) -> None:
    db = open_sqlite(tmp_path / "audit.sqlite")
    db.create(trail.metadata)
    heads = tmp_path / "kept" / "audit-heads.txt"
    assert write_head(db, heads, at(22, 9)) is None and not heads.exists(), "nothing to hold"
    with db.write() as conn:
        trail.append(conn, "identity", events(1, 2))
    with running_smtp_server() as server:
        mailer = Mailer(load_settings({"PMP_DATA_DIR": str(tmp_path), "PMP_SMTP_URL": server.url}))
        first = write_head(db, heads, at(22, 10), mailer, AUDITOR)
        with db.read() as conn:
            assert first == f"2026-11-22T10:00:00Z 2 {trail.head(conn).hash}"
        with db.write() as conn:
            trail.append(conn, "identity", events(3, 3))
        second = write_head(db, heads, at(22, 11), mailer, AUDITOR)
        third = write_head(db, heads, at(23, 0), mailer, AUDITOR)
        assert heads.read_text().splitlines() == [first, second, third]
        assert [h.count for h in read_heads(heads)] == [2, 3, 3]
        received = server.wait_for(lambda r: r.subject == "CPMRS audit trail head 2026-11-23")
        assert third in received.text and received.envelope_to == (AUDITOR,)
        assert len(server.messages) == 2, "one email a day"


def test_an_unreachable_mail_server_still_leaves_the_line_in_the_file(tmp_path) -> None:
    db = trail_of(tmp_path, 1)
    heads = tmp_path / "audit-heads.txt"
    settings = load_settings({"PMP_DATA_DIR": str(tmp_path), "PMP_SMTP_URL": "smtp://127.0.0.1:1"})
    line = write_head(db, heads, at(22, 10), Mailer(settings), AUDITOR)
    assert heads.read_text() == f"{line}\n"


def test_verify_checks_the_trail_still_runs_through_a_held_head(tmp_path, amqp_uri) -> None:
    db = trail_of(tmp_path, 3)
    held = write_head(db, tmp_path / "elsewhere.txt", at(22, 10))
    assert held is not None
    with db.write() as conn:
        trail.append(conn, "identity", events(4, 5))
    db.dispose()
    env = {"PMP_DATA_DIR": str(tmp_path), "PMP_AMQP_URI": amqp_uri}
    through = pmp("audit", "verify", "--held", held, env=env)
    assert through.returncode == 0, through.stdout + through.stderr
    assert (
        through.stdout.splitlines()[-1] == f"through the held head: entry 3 is {held.split()[-1]}"
    )
    forged = held[:-1] + ("0" if held[-1] != "0" else "1")
    refused = pmp("audit", "verify", "--held", forged, env=env)
    assert refused.returncode == 1
    assert refused.stdout.splitlines()[-1].startswith(
        "NOT through the head held at 2026-11-22T10:00:00Z: entry 3 is "
    )


def test_plain_verify_finds_a_deleted_tail_or_a_rewritten_chain_and_sources_an_altered_event(
    stack: Stack, tmp_path: Path
) -> None:
    heads_file = Path(stack.env["PMP_DATA_DIR"]) / "audit-heads.txt"
    first = wait_until(lambda: read_heads(heads_file), 60, "a head held after start-up")[0]
    after = datetime.fromisoformat(first.stamp) - started_at(stack.process.pid)
    print(f"first head {after.total_seconds():.1f} s after pmp up started: {first}")
    assert after < timedelta(seconds=60), "the first head is written at start-up, not an hour on"
    admin = ready(stack, create_first_administrator(stack, tmp_path))  # events flow
    live = open_service_db(stack, "identity")
    created = EventStore(live, IdentityService.kernel.registry).read_stream(
        f"account-{admin.account_id}"
    )[0]
    live.dispose()
    live_audit = open_service_db(stack, "audit")

    def chained() -> bool:
        with live_audit.read() as conn:
            return trail.last_position(conn, "identity") >= (created.position or 0)

    wait_until(chained, 60, "the administrator's events chained in the trail")
    live_audit.dispose()
    with backup_of(stack, tmp_path) as env:  # a DBA's copy: the running stack is left alone
        check_against_backup(env, created)


def check_against_backup(env: dict[str, str], created: RecordedEvent) -> None:
    settings = load_settings(env)
    audit, identity = open_database(settings, "audit"), open_database(settings, "identity")
    heads = read_heads(settings.audit_heads_file)
    oldest, newest = min(heads, key=lambda h: h.count), max(heads, key=lambda h: h.count)

    intact = pmp("audit", "verify", "--sources", env=env)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert f"through {len(heads)} held heads" in intact.stdout
    assert re.search(r"^identity: [\d,]+ events as in the trail", intact.stdout, re.M)

    # A DBA alters an event in identity's own store (no trigger guards it).
    with identity.write() as conn:
        data = {**created.data, "first_name": "Mallory"}
        conn.execute(store_events.update().where(store_events.c.event_id == created.event_id)
                     .values(data=data))  # fmt: skip
    with audit.read() as conn:
        entry = conn.scalar(sa.select(trail.entries.c.n)
                            .where(trail.entries.c.event_id == created.event_id))  # fmt: skip
    altered = pmp("audit", "verify", "--sources", env=env)
    assert altered.returncode == 1, altered.stdout
    assert (
        f"  DIFFERS: identity position {created.position}, event {created.event_id} "
        f"(AccountCreated), trail entry {entry}: the store's event differs from the trail's copy"
    ) in altered.stdout.splitlines(), altered.stdout
    assert pmp("audit", "verify", env=env).returncode == 0, "the trail itself is intact"

    # The trail's last entries deleted, down into what the newest held head covers.
    disable_guards(audit)
    with audit.write() as conn:
        tail = conn.execute(sa.select(trail.entries).where(trail.entries.c.n >= newest.count))
        kept = [row._asdict() for row in tail]
        conn.execute(trail.entries.delete().where(trail.entries.c.n >= newest.count))
    deleted = pmp("audit", "verify", env=env)
    assert deleted.returncode == 1, deleted.stdout
    assert deleted.stdout.splitlines()[-1] == (
        f"NOT through the head held at {newest.stamp}: it held {newest.count:,} entries, the "
        f"trail has {newest.count - 1:,}: entries {newest.count:,} to {newest.count:,} were deleted"
    )
    with audit.write() as conn:
        conn.execute(trail.entries.insert(), kept)
    assert pmp("audit", "verify", env=env).returncode == 0, "the tail put back"

    # An entry rewritten and the whole chain re-hashed after it, as one who knows the scheme.
    rewrite_from(audit, 1)
    rewritten = pmp("audit", "verify", env=env)
    assert rewritten.returncode == 1, rewritten.stdout
    lines = rewritten.stdout.splitlines()
    assert lines[0].startswith("intact: "), "the walk alone finds nothing"
    assert lines[-1].startswith(
        f"NOT through the head held at {oldest.stamp}: entry {oldest.count:,} is "
    )
    assert lines[-1].endswith(f"rewritten from its start, at or before entry {oldest.count:,}")
    audit.dispose()
    identity.dispose()


@contextlib.contextmanager
def backup_of(stack: Stack, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A consistent copy of the stack's heads file, audit trail and identity store (in that
    order, so the copy's trail holds nothing the copied store has not); the environment for
    ``pmp`` commands that read the copy."""
    heads = tmp_path / "backup" / "audit-heads.txt"
    heads.parent.mkdir()
    shutil.copy(Path(stack.env["PMP_DATA_DIR"]) / "audit-heads.txt", heads)
    env = {**stack.env, "PMP_AUDIT_HEADS_FILE": str(heads)}
    url = stack.env["PMP_DATABASE_URL"]
    if not url:
        for service in ("audit", "identity"):
            source = sqlite3.connect(Path(stack.env["PMP_DATA_DIR"]) / f"{service}.sqlite")
            copy = sqlite3.connect(heads.parent / f"{service}.sqlite")
            source.backup(copy)
            source.close()
            copy.close()
        yield {**env, "PMP_DATA_DIR": str(heads.parent)}
        return
    prefix = f"backup{uuid.uuid4().hex[:8]}_"
    tables = {"audit": (trail.entries, trail.patients), "identity": (appends, store_events)}
    try:
        for service, copied in tables.items():
            copy = open_postgresql(url, prefix + service)
            copy.create(copied[0].metadata)  # the trail's tables come with their triggers
            with copy.write() as conn:
                for table in copied:
                    conn.exec_driver_sql(
                        f'INSERT INTO "{prefix}{service}".{table.name} '
                        f'SELECT * FROM "{stack.env["PMP_SCHEMA_PREFIX"]}{service}".{table.name}'
                    )
            copy.dispose()
        yield {**env, "PMP_SCHEMA_PREFIX": prefix}
    finally:
        drop_schemas(url, prefix)


def started_at(pid: int) -> datetime:
    """When process ``pid`` started (Linux: its start time in clock ticks after boot)."""
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    boot = next(
        int(line.split()[1])
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("btime ")
    )
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)


def disable_guards(db) -> None:
    """What someone with the database's owner rights can do: drop the append-only triggers."""
    with db.write() as conn:
        if db.is_postgresql:
            conn.exec_driver_sql("ALTER TABLE audit_entries DISABLE TRIGGER USER")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_entries_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_entries_no_delete")


def rewrite_from(db, first: int) -> None:
    """Change entry ``first``'s event data, and re-hash it and every entry after it."""
    e = trail.entries
    with db.write() as conn:
        rows = conn.execute(sa.select(e).where(e.c.n >= first).order_by(e.c.n)).all()
        previous = conn.scalar(sa.select(e.c.hash).where(e.c.n == first - 1)) or GENESIS
        for row in rows:
            body = row.body
            if row.n == first:
                parsed = orjson.loads(body)
                parsed["data"] = {**parsed["data"], "forged": True}
                body = orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS).decode()
            digest = link(previous, body.encode())
            conn.execute(e.update().where(e.c.n == row.n)
                         .values(body=body, previous_hash=previous, hash=digest))  # fmt: skip
            previous = digest


def test_sources_names_each_event_altered_or_deleted_in_its_store(tmp_path) -> None:
    store = EventStore(open_sqlite(tmp_path / "identity.sqlite"), diagnostics.kernel_events())
    store.create_tables()
    for n in range(1, 6):
        probe = {"probe_id": str(uuid.uuid4()), "service": "identity"}
        store.append(
            f"probe-p{n}", 0, [NewEvent(diagnostics.PROBE_RECORDED, probe, Metadata(at(22, 10)))]
        )
    audit = open_sqlite(tmp_path / "audit.sqlite")
    audit.create(trail.metadata)
    with audit.write() as conn:
        trail.append(conn, "identity", store.read_all(0, 4))  # the fifth is not chained yet
    second, fourth = store.read_all(1, 1)[0], store.read_all(3, 1)[0]
    with store.db.write() as conn:
        changed = {**second.data, "probe_id": str(uuid.uuid4())}
        conn.execute(store_events.update().where(store_events.c.event_id == second.event_id)
                     .values(data=changed))  # fmt: skip
        conn.execute(store_events.delete().where(store_events.c.event_id == fourth.event_id))
    with audit.read() as conn:
        found = compare(conn, "identity", store)
    assert [str(f) for f in found.findings] == [
        f"identity position 2, event {second.event_id} (ProbeRecorded), trail entry 2: "
        "the store's event differs from the trail's copy",
        f"identity position 4, event {fourth.event_id} (ProbeRecorded), trail entry 4: "
        "is in the trail but missing from the store",
    ]
    assert (found.compared, found.not_chained_yet) == (3, 1)
