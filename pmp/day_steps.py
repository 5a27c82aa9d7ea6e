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
    value is that of the newest step on or before it (0 before the first step)."""
    days = _days(first, last)
    values = [0.0] * len(days)
    starts = [(date.fromisoformat(day) - date.fromisoformat(first)).days for day, _ in steps]
    for n, (start, (_, value)) in enumerate(zip(starts, steps, strict=True)):
        end = starts[n + 1] if n + 1 < len(starts) else len(days)
        values[max(start, 0) : max(end, 0)] = [value] * (max(end, 0) - max(start, 0))
    return [{"date": day, "mme": value} for day, value in zip(days, values, strict=False)]


@lru_cache(maxsize=64)
def _days(first: str, last: str) -> tuple[str, ...]:
    """The ISO dates from ``first`` to ``last``: calendar only, the same for every report of
    the day and look-back."""
    start = date.fromisoformat(first)
    span = (date.fromisoformat(last) - start).days + 1
    return tuple((start + timedelta(days=n)).isoformat() for n in range(max(span, 0)))
