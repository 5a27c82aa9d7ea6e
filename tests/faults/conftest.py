"""The fault suite's fixture: a stack behind TCP proxies, this test's own (``stack.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.stack import FaultStack, fault_stack_of


@pytest.fixture(params=["postgresql"])
def fault_stack(request, broker, tmp_path_factory) -> Iterator[FaultStack]:
    """This test's own stack behind proxies (PostgreSQL; parametrize it indirectly with
    ``"sqlite"`` for the embedded stores)."""
    with fault_stack_of(request, broker, tmp_path_factory) as stack:
        yield stack
