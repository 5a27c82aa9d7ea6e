"""The audit trail's head: a line in a file outside the database at start-up and hourly, and
an email once a day; ``pmp audit verify`` checking the trail still runs through every held
head (and ``--held``), and ``--sources`` comparing it with the services' own stores."""

from __future__ import annotations

import re
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from pmp.config import load_settings
from pmp.db import open_sqlite
from pmp.envelope import Metadata, RecordedEvent
from pmp.eventstore import EventStore
from pmp.eventstore import events as store_events
from pmp.mail import Mailer
from services.audit import trail
from services.audit.chain import GENESIS, link
from services.audit.heads import read_heads, write_head
from services.identity.service import IdentityService
from tests.helpers.accounts import create_first_administrator, ready
from tests.helpers.processes import wait_until
from tests.helpers.smtp import running_smtp_server
from tests.helpers.stack import Stack, _stack
from tests.integration.test_cli import pmp
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


def test_verify_checks_the_trail_still_runs_through_a_held_head(tmp_path) -> None:
    db = trail_of(tmp_path, 3)
    held = write_head(db, tmp_path / "elsewhere.txt", at(22, 10))
    assert held is not None
    with db.write() as conn:
        trail.append(conn, "identity", events(4, 5))
    db.dispose()
    env = {"PMP_DATA_DIR": str(tmp_path)}
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


@pytest.fixture(params=["sqlite", "postgresql"])
def own_stack(request, broker, tmp_path_factory) -> Iterator[Stack]:
    """A stack of its own: this test stops it and tampers with its databases."""
    with running_smtp_server() as mail:
        yield from _stack(request, broker, tmp_path_factory, mail)


def test_plain_verify_finds_a_deleted_tail_or_a_rewritten_chain_and_sources_an_altered_event(
    own_stack: Stack, tmp_path
) -> None:
    stack, up = own_stack, time.monotonic()
    heads_file = Path(stack.env["PMP_DATA_DIR"]) / "audit-heads.txt"
    held = wait_until(lambda: read_heads(heads_file), 30, "a head held soon after start-up")[0]
    print(f"first head {time.monotonic() - up:.1f} s after start-up: {held}")
    admin = ready(stack, create_first_administrator(stack, tmp_path))  # events flow
    audit, identity = open_service_db(stack, "audit"), open_service_db(stack, "identity")
    store = EventStore(identity, IdentityService.kernel.registry)
    created = next(e for e in store.read_stream(f"account-{admin.account_id}"))

    def chained() -> bool:
        with audit.read() as conn:
            return trail.last_position(conn, "identity") >= (created.position or 0)

    wait_until(chained, 60, "the administrator's events chained in the trail")
    stack.process.popen.send_signal(signal.SIGINT)  # the services stop; the databases stay
    stack.process.wait(60)
    env = stack.env_for_commands()

    intact = pmp("audit", "verify", "--sources", env=env)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "through 1 held heads" in intact.stdout
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

    # The trail's last entries deleted, down into what the held head covers.
    disable_guards(audit)
    with audit.write() as conn:
        tail = conn.execute(sa.select(trail.entries).where(trail.entries.c.n >= held.count))
        kept = [row._asdict() for row in tail]
        conn.execute(trail.entries.delete().where(trail.entries.c.n >= held.count))
    deleted = pmp("audit", "verify", env=env)
    assert deleted.returncode == 1, deleted.stdout
    assert deleted.stdout.splitlines()[-1] == (
        f"NOT through the head held at {held.stamp}: it held {held.count:,} entries, the trail "
        f"has {held.count - 1:,}: entries {held.count:,} to {held.count:,} were deleted"
    )
    with audit.write() as conn:
        conn.execute(trail.entries.insert(), kept)
    assert pmp("audit", "verify", env=env).returncode == 0, "the tail put back"

    # An entry rewritten and the whole chain re-hashed after it, as one who knows the scheme.
    rewrite_from(audit, 1)
    rewritten = pmp("audit", "verify", env=env)
    assert rewritten.returncode == 1, rewritten.stdout
    first, last = rewritten.stdout.splitlines()[0], rewritten.stdout.splitlines()[-1]
    assert first.startswith("intact: "), "the walk alone finds nothing"
    assert last.startswith(f"NOT through the head held at {held.stamp}: entry {held.count:,} is ")
    assert last.endswith(
        f"the chain was rewritten from its start, at or before entry {held.count:,}"
    )
    audit.dispose()
    identity.dispose()


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
