"""The audit trail's hash chain, as pure functions."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta, timezone

from pmp.envelope import Metadata, RecordedEvent
from services.audit.chain import GENESIS, canonical, link

EVENT_ID = uuid.UUID(int=7)


def event(data: dict, at: datetime) -> RecordedEvent:
    return RecordedEvent(EVENT_ID, "account-1", 1, 5, "PasswordChanged", data, 1,
                         Metadata(occurred_at=at, actor_id="u-1"))  # fmt: skip


def test_the_same_event_gives_the_same_bytes_whatever_its_key_order_or_time_zone() -> None:
    at = datetime(2026, 11, 1, 9, tzinfo=UTC)
    first = canonical("identity", event({"a": 1, "b": [1, 2]}, at))
    again = canonical(
        "identity", event({"b": [1, 2], "a": 1}, at.astimezone(timezone(timedelta(hours=-5))))
    )
    assert first == again
    assert first.startswith(b'{"data":{"a":1,"b":[1,2]},"event_id":"00000000-')
    assert b'"source":"identity"' in first


def test_each_hash_covers_the_one_before_it_and_the_entry() -> None:
    body = b'{"n":1}'
    first = link(GENESIS, body)
    assert first == hashlib.sha256(bytes(32) + body).hexdigest()
    assert link(first, body) != first, "the same body after another entry hashes differently"
    assert link(GENESIS, b'{"n":2}') != first
