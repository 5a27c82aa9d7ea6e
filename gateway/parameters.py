"""Numbers and moments from the address (query string and path), read within bounds.

Whatever a client writes there reaches a service and, in the end, a database column or a
date calculation. A number beyond what a BIGINT holds, or a moment whose offset takes it
past year 9999 (``pmp.moments``), failed deep inside a service as a 500. Here each is
refused at the door as a 422 problem that names the parameter, in ``errors`` as a form's
fields are.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Request

from gateway.problems import Problem
from pmp.moments import parse_moment

MAX_INTEGER = 2**63 - 1  # a BIGINT: the widest id or count any store keeps
MAX_PAGE = 2**31 - 1  # far past any last page; times a page size it still fits a BIGINT
_DIGITS = re.compile(r"[0-9]{1,30}")  # ASCII only: int() also reads "²" and Arabic digits


def refused(name: str, message: str, title: str = "A parameter is not valid") -> Problem:
    """The 422 answer for a bad parameter (query string or path), naming it."""
    return Problem(422, title, f"{name}: {message}", extensions={"errors": {name: [message]}})


def whole_number(
    request: Request,
    name: str,
    default: int | None = None,
    minimum: int = 0,
    maximum: int = MAX_INTEGER,
) -> int | None:
    """The query parameter ``name`` as a whole number from ``minimum`` to ``maximum``;
    ``default`` when it is absent or empty."""
    text = request.args.get(name, "")
    if not text:
        return default
    return bounded(name, text, minimum, maximum)


def page_number(request: Request, name: str = "page") -> int:
    """A page number from 1 (the first page when absent)."""
    return whole_number(request, name, 1, minimum=1, maximum=MAX_PAGE)  # type: ignore[return-value]


def bounded(name: str, text: str, minimum: int = 0, maximum: int = MAX_INTEGER) -> int:
    """``text`` as a whole number from ``minimum`` to ``maximum``, or a refusal naming it."""
    if not _DIGITS.fullmatch(text) or not minimum <= int(text) <= maximum:
        raise refused(name, f"a whole number from {minimum} to {maximum}.")
    return int(text)


def check_path_numbers(values: dict[str, Any]) -> None:
    """Refuse a number in the path (``<int:...>``) that no store can hold."""
    for name, value in values.items():
        if isinstance(value, int) and not 0 <= value <= MAX_INTEGER:
            raise refused(name, f"a whole number from 0 to {MAX_INTEGER}.")


def moment(request: Request, name: str) -> str | None:
    """The query parameter ``name`` as a moment with its offset (see ``pmp.moments``); None
    when absent or empty. Services get the text as given and read it the same way."""
    text = request.args.get(name, "")
    if not text:
        return None
    try:
        parse_moment(text)
    except ValueError as exc:
        raise refused(name, str(exc)) from None
    return text
