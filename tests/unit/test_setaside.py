"""What a set-aside event's error keeps (never the event's data), and which failures are
an event's own fault rather than something around it being unavailable."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from nameko.exceptions import RpcTimeout

from pmp.checkpoints import CheckpointMoved
from pmp.setaside import describe, is_transient
from pmp.sources import SourceUnavailable


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_the_error_names_the_exception_a_field_name_and_where_it_was_raised() -> None:
    error = describe(raised(KeyError("first_name")))
    assert error.startswith("KeyError: 'first_name' (tests/unit/test_setaside.py:")
    assert error.endswith("in raised)")


def test_a_quoted_value_is_masked_it_may_be_a_patients() -> None:
    error = describe(raised(ValueError("Invalid isoformat string: '1948-05-12' for LOVE")))
    assert "1948-05-12" not in error
    assert error.startswith("ValueError: Invalid isoformat string: '…' for LOVE")


def test_a_database_error_keeps_the_first_line_of_the_driver_message_only() -> None:
    driver = Exception(
        'duplicate key value violates unique constraint "pk"\nDETAIL: Key (name)=(LOVE) exists.'
    )
    exc = sa.exc.IntegrityError("INSERT INTO t (name) VALUES (%(name)s)", {"name": "LOVE"}, driver)
    error = describe(raised(exc))
    assert error.startswith('Exception: duplicate key value violates unique constraint "pk"')
    assert "LOVE" not in error and "INSERT" not in error


def test_a_long_message_is_trimmed() -> None:
    assert len(describe(raised(RuntimeError("x" * 2000)))) <= 300


@pytest.mark.parametrize(
    "exc",
    [
        sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        CheckpointMoved("moved"),
        SourceUnavailable("query is not answering"),
        RpcTimeout("no answer"),
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
    ],
)
def test_something_unavailable_is_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        KeyError("records"),
        OverflowError("date value out of range"),
        sa.exc.IntegrityError("INSERT", {}, Exception("duplicate")),
        sa.exc.DataError("INSERT", {}, Exception("value too long")),
    ],
)
def test_an_events_own_fault_is_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)
