"""A submission's error report as the pharmacy reads it to fix its file: the columns, their
order and headings, the CSV (pages, API and ``pmp ingest`` alike), and an error's place in
words.

ASAP allows a file without line breaks, where every error is on line 1; so each error also
gives its segment's place in the file (TH is 1) and the byte that segment starts at (the
file's first byte is 0). Errors stored before these were kept have neither (None).

A line's severity is "error" (the record, or the file, was refused for it) or "note": a name
read as Latin-1 and kept, which the pharmacy should check and send as ASCII or UTF-8.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pmp.csv_files import csv_text

#: Each error's columns, in order, with the heading a spreadsheet and the page show.
COLUMNS = (
    ("segment_number", "Segment #"),
    ("line", "Line"),
    ("byte_offset", "Byte offset"),
    ("segment", "Segment"),
    ("field", "Field"),
    ("value", "Value"),
    ("message", "Message"),
    ("severity", "Severity"),
)
ERROR, NOTE = "error", "note"
KEYS = tuple(key for key, _ in COLUMNS)
HEADINGS = tuple(heading for _, heading in COLUMNS)


def report_csv(errors: Iterable[Mapping[str, Any]]) -> str:
    """The report as a CSV file to open in a spreadsheet (no cell runs as a formula)."""
    return csv_text(HEADINGS, ([error.get(key) for key in KEYS] for error in errors))


def errors_and_notes(
    report: Iterable[Mapping[str, Any]],
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The report's errors and its notes, each in the report's order."""
    lines = list(report)
    notes = [line for line in lines if line.get("severity") == NOTE]
    return [line for line in lines if line.get("severity") != NOTE], notes


def place(error: Mapping[str, Any]) -> str:
    """Where the error is: ``segment 8 (line 1, byte offset 212)``."""
    line = f"line {error['line']}"
    if error.get("segment_number") is None:
        return line
    return f"segment {error['segment_number']} ({line}, byte offset {error['byte_offset']})"
