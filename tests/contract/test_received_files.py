"""Which files were received, by whom: a pharmacy's resend of a file is recognised (and
continued if it stopped part-way), another account's identical file is a submission of its
own, on SQLite and PostgreSQL. Files received before senders were kept are still known."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.submissions import memory
from services.submissions.intake import Progress

DIGEST = "ab" * 32
RECEIVED_AT = datetime(2026, 12, 7, 9, tzinfo=UTC)


@pytest.fixture
def tables(database) -> memory.IntakeTables:
    database.create(memory.metadata)
    return memory.IntakeTables(database)


def sent(tables: memory.IntakeTables, sender: str | None, state: str = "running") -> Progress:
    progress = Progress(str(uuid.uuid4()), DIGEST, RECEIVED_AT, state=state, sender=sender)
    with tables.db.write() as conn:
        tables.save_progress_in(conn, progress)
    return progress


def test_a_file_is_its_senders_and_no_one_elses(tables) -> None:
    ours = sent(tables, "account-a")
    found = tables.received(DIGEST, "account-a")
    assert found is not None and found[0] == ours.submission_id
    assert found[1] is not None and found[1].sender == "account-a"
    assert tables.received(DIGEST, "account-b") is None

    theirs = sent(tables, "account-b")  # the same bytes: a submission of its own
    assert tables.received(DIGEST, "account-b")[0] == theirs.submission_id  # type: ignore[index]
    assert tables.received(DIGEST, "account-a")[0] == ours.submission_id  # type: ignore[index]


def test_a_rejected_file_may_be_sent_again_by_its_sender(tables) -> None:
    progress = sent(tables, "account-a")
    with tables.db.write() as conn:
        tables.save_progress_in(conn, progress.snapshot(state="rejected"))
    assert tables.received(DIGEST, "account-a") is None


def test_a_file_received_before_senders_were_kept_is_still_known(tables) -> None:
    old = sent(tables, None)  # stored under its bare SHA-256, as then
    found = tables.received(DIGEST, "account-a")
    assert found is not None and found[0] == old.submission_id
