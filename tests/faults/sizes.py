"""How big the fault experiments are: small in ``make test``, full in ``make faults``.

``PMP_FAULTS_FULL=1`` (what ``make faults`` sets) gives each experiment the sizes of the
outside fault study; without it, the same experiment runs with enough records and time to
show the fault and the recovery, and keeps ``make test`` short.
"""

from __future__ import annotations

import os

import pytest

FULL = os.environ.get("PMP_FAULTS_FULL") == "1"

#: For an experiment whose bounded form ``make test`` already has elsewhere: it runs only
#: under ``make faults`` (each stack costs half a minute to two; ``make test`` must stay short).
full_only = pytest.mark.skipif(not FULL, reason="make faults only (PMP_FAULTS_FULL=1)")


def size(bounded: int, full: int) -> int:
    """``full`` under ``make faults``, else ``bounded``."""
    return full if FULL else bounded
