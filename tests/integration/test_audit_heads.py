"""The audit trail's daily head: a line in a file outside the database, and an email, once a
day; and ``pmp audit verify --held`` checking that the trail still runs through it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from pmp.config import load_settings
from pmp.db import open_sqlite
from pmp.envelope import Metadata, RecordedEvent
from pmp.mail import Mailer
from services.audit import trail
from services.audit.heads import write_daily_head
from tests.helpers.smtp import running_smtp_server
from tests.integration.test_cli import pmp

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


def test_each_day_s_head_is_written_once_and_emailed(tmp_path) -> None:
    db = trail_of(tmp_path, 2)
    heads = tmp_path / "kept" / "audit-heads.txt"
    with running_smtp_server() as server:
        mailer = Mailer(load_settings({"PMP_DATA_DIR": str(tmp_path), "PMP_SMTP_URL": server.url}))
        first = write_daily_head(db, heads, date(2026, 11, 22), mailer, AUDITOR)
        with db.read() as conn:
            assert first == f"2026-11-22 2 {trail.head(conn).hash}"
        assert write_daily_head(db, heads, date(2026, 11, 22), mailer, AUDITOR) is None
        with db.write() as conn:
            trail.append(conn, "identity", events(3, 3))
        second = write_daily_head(db, heads, date(2026, 11, 23), mailer, AUDITOR)
        assert heads.read_text().splitlines() == [first, second]
        received = server.wait_for(lambda r: r.subject == "CPMRS audit trail head 2026-11-23")
        assert second in received.text and received.envelope_to == (AUDITOR,)
        assert len(server.messages) == 2, "one email a day"


def test_an_unreachable_mail_server_still_leaves_the_line_in_the_file(tmp_path) -> None:
    db = trail_of(tmp_path, 1)
    heads = tmp_path / "audit-heads.txt"
    settings = load_settings({"PMP_DATA_DIR": str(tmp_path), "PMP_SMTP_URL": "smtp://127.0.0.1:1"})
    line = write_daily_head(db, heads, date(2026, 11, 22), Mailer(settings), AUDITOR)
    assert heads.read_text() == f"{line}\n"


def test_verify_checks_the_trail_still_runs_through_a_held_head(tmp_path) -> None:
    db = trail_of(tmp_path, 3)
    held = write_daily_head(db, tmp_path / "audit-heads.txt", date(2026, 11, 22))
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
    assert refused.stdout.splitlines()[-1].startswith("NOT through the held head: entry 3 is ")
