"""How big the fault experiments are: small in ``make test``, full in ``make faults``.

``PMP_FAULTS_FULL=1`` (what ``make faults`` sets) gives each experiment the sizes of the
outside fault study; without it, the same experiment runs with enough records and time to
show the fault and the recovery, and keeps ``make test`` short.
"""

from __future__ import annotations

import os

FULL = os.environ.get("PMP_FAULTS_FULL") == "1"


def size(bounded: int, full: int) -> int:
    """``full`` under ``make faults``, else ``bounded``."""
    return full if FULL else bounded
