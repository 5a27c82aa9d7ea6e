"""A value per day, sent as the days it changes: a year of MME/day is a few steps, not 365
points that each service encodes, the broker carries and the gateway decodes and shapes
again (about a tenth of a lookup's CPU). ``daily`` gives the points back where a chart is
drawn or the API's daily series is answered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

Step = tuple[str, float]  # the first day (ISO) of a value, and the value


def daily(steps: Sequence[Sequence[Any]], first: str, last: str) -> list[dict[str, Any]]:
    """``{"date", "mme"}`` for every day from ``first`` to ``last`` (ISO dates): each day's
    value is that of the newest step on or before it (0 before the first step). ISO dates
    order as strings."""
    points, value, n = [], 0.0, 0
    for day in _days(first, last):
        while n < len(steps) and steps[n][0] <= day:
            value, n = steps[n][1], n + 1
        points.append({"date": day, "mme": value})
    return points


@lru_cache(maxsize=64)
def _days(first: str, last: str) -> tuple[str, ...]:
    """The ISO dates from ``first`` to ``last``: calendar only, the same for every report of
    the day and look-back."""
    start = date.fromisoformat(first)
    span = (date.fromisoformat(last) - start).days + 1
    return tuple((start + timedelta(days=n)).isoformat() for n in range(max(span, 0)))
