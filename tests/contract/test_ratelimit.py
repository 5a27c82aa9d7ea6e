"""The shared rate limiter on SQLite and PostgreSQL: fixed windows per key, the wait it
names, and no count lost when replicas count the same key at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from pmp.config import load_settings
from pmp.db import Database
from pmp.ratelimit import (
    PRUNE_EVERY,
    TOO_MANY_FROM_CLIENT,
    TOO_MANY_TO_ADDRESS,
    Limit,
    RateLimit,
    RateLimited,
    mail_checks,
    metadata,
    rate_limits,
    retry_after,
)

NOW = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)


@pytest.fixture
def limiter(database: Database) -> RateLimit:
    database.create(metadata)
    return RateLimit(database)


def test_a_window_allows_its_count_then_names_the_wait(limiter):
    check = [("k", Limit(3, 3600), "Too many.")]
    for _ in range(3):
        limiter.check(check, NOW)
    with pytest.raises(RateLimited) as refused:
        limiter.check(check, NOW + timedelta(minutes=10))
    assert refused.value.retry_after == 50 * 60
    assert str(refused.value) == "Too many. Try again in 50 minutes."
    assert retry_after(str(refused.value)) == 50 * 60
    limiter.check(check, NOW + timedelta(hours=1))  # a new window
    with pytest.raises(RateLimited, match="Try again in 5 seconds"):
        fast = [("f", Limit(1, 5), "Too many.")]
        limiter.check(fast, NOW)
        limiter.check(fast, NOW)


def test_mail_is_counted_per_recipient_whoever_asks_and_per_client_whatever_the_recipient(
    limiter,
):
    settings = load_settings(
        {"PMP_MAIL_LIMIT_PER_RECIPIENT": "2/3600", "PMP_MAIL_LIMIT_PER_CLIENT": "2/3600"}
    )
    limiter.check(mail_checks(settings, "reset", "Pat@Example.org", "192.0.2.1"), NOW)
    limiter.check(mail_checks(settings, "reset", " pat@example.org", "192.0.2.2"), NOW)
    with pytest.raises(RateLimited, match=TOO_MANY_TO_ADDRESS):
        limiter.check(mail_checks(settings, "reset", "pat@example.org", "192.0.2.3"), NOW)
    limiter.check(mail_checks(settings, "sign-up", "pat@example.org", "192.0.2.1"), NOW)
    with pytest.raises(RateLimited, match=TOO_MANY_FROM_CLIENT):
        limiter.check(mail_checks(settings, "reset", "other@example.org", "192.0.2.1"), NOW)
    # the refused request from 192.0.2.3 counted: one more from there is its last
    limiter.check(mail_checks(settings, "sign-up", "third@example.org", "192.0.2.3"), NOW)
    with pytest.raises(RateLimited, match=TOO_MANY_FROM_CLIENT):
        limiter.check(mail_checks(settings, "sign-up", "fourth@example.org", "192.0.2.3"), NOW)


def test_replicas_counting_one_key_at_once_lose_no_count(limiter):
    check = [("shared", Limit(1000, 3600), "Too many.")]
    errors: list[BaseException] = []

    def count() -> None:
        try:
            for _ in range(10):
                limiter.check(check, NOW)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with pytest.raises(RateLimited):
        limiter.check([("shared", Limit(40, 3600), "Too many.")], NOW)


def test_rows_whose_window_ended_are_deleted_and_the_others_kept(limiter, database):
    """One row per client address and recipient ever seen piled up for good."""
    limiter.check([("brief", Limit(1, 60), "Too many.")], NOW)
    limiter.check([("weekly", Limit(1, 7 * 86400), "Too many.")], NOW)
    limiter.check([("other", Limit(5, 60), "Too many.")], NOW + PRUNE_EVERY)  # prunes
    assert keys(database) == {"weekly", "other"}
    with pytest.raises(RateLimited):  # the weekly count survived the pruning
        limiter.check([("weekly", Limit(1, 7 * 86400), "Too many.")], NOW + PRUNE_EVERY)
    assert limiter.prune(NOW + timedelta(days=8)) == 2


def keys(database: Database) -> set[str]:
    with database.read() as conn:
        return set(conn.scalars(sa.select(rate_limits.c.key)))
