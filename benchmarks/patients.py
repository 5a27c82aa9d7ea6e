"""(d) The patient index on a generated identity set: precision and recall of its links.

The set (``services/submissions/identities.py``) holds true persons and realistic variants of
them (typos, nicknames, hyphenated and changed surnames, swapped day and month, moves, a
son's "Jr" left out) and designed look-alikes (namesakes, twins, twins whose first names are
one letter apart, fathers and sons of one name: issue 24). Every record is linked in order,
as the intake links them; precision and recall count pairs of records. Goals from the issue:
precision >= 99.5%, recall >= 97%.
"""

from __future__ import annotations

from benchmarks.common import Result
from services.submissions.identities import generate, measure

RECORDS = 20_000


def run(records: int = RECORDS, seed: int = 0) -> list[Result]:
    found = measure(generate(records, seed))
    note = (
        f"{records:,} generated records (seed {seed}); {found.linked_pairs:,} linked pairs, "
        f"{found.true_pairs:,} true pairs; links by kind: {dict(found.kinds)}"
    )
    common = {"benchmark": "d", "peer": 0.0, "peer_name": "none", "goal_ratio": 0.0}
    return [
        Result(case="patient index precision", unit="%", ours=100 * found.precision,
               goal=99.5, note=note, **common),
        Result(case="patient index recall", unit="%", ours=100 * found.recall, goal=97.0,
               note="the same set", **common),
        Result(case="patient index links", unit="links/s", ours=1 / found.seconds_per_link,
               note="link then add, one process", **common),
    ]  # fmt: skip
