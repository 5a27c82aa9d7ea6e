"""The one way the program writes a CSV file: for people who open it in a spreadsheet.

A cell a spreadsheet would take for a formula (OWASP's CSV injection rule: text starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading single quote, so
``=HYPERLINK(...)`` typed as a name or sent in a pharmacy's file shows as text instead of
running. The rule is applied to text only: numbers are written as numbers, so ``-3`` stays a
number (a spreadsheet reads it as one, not as a formula); text that merely looks like a
negative number ("-3" as sent in a file) is quoted like any other text starting with ``-``.

Text of digits that a spreadsheet would change by reading it as a number (leading zeros, as
in an NDC, a prescription number or a date of 00000000 sent in a pharmacy's file; more than
15 digits, past a spreadsheet's precision) is written as ``="00002323230"``, the one form
both Excel and LibreOffice show as the text it is. Only such digit strings are wrapped, so
the formula is always a constant of ours and never the sender's text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DIGITS_KEPT = 15  # a spreadsheet's number keeps this many digits; text longer is wrapped


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell: None empty, numbers as they are, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    if text.isascii() and text.isdigit() and _read_as_another_number(text):
        return f'="{text}"'
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _read_as_another_number(digits: str) -> bool:
    """Whether a spreadsheet would show ``digits`` as a different number: zeros dropped from
    its start, or digits past its precision turned to zeros."""
    return (len(digits) > 1 and digits[0] == "0") or len(digits) > DIGITS_KEPT


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    """A header line and ``rows``, every cell through :func:`safe_cell`, CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(value) for value in header])
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return buffer.getvalue()
