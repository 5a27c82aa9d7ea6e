"""The one way the program writes a CSV file: for people who open it in a spreadsheet.

A cell a spreadsheet would take for a formula (OWASP's CSV injection rule: text starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading single quote, so
``=HYPERLINK(...)`` typed as a name or sent in a pharmacy's file shows as text instead of
running. The rule is applied to text only: numbers are written as numbers, so ``-3`` stays a
number (a spreadsheet reads it as one, not as a formula); text that merely looks like a
negative number ("-3" as sent in a file) is quoted like any other text starting with ``-``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell: None empty, numbers as they are, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """A header line and ``rows``, every cell through :func:`safe_cell`, CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(value) for value in header])
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return buffer.getvalue()
