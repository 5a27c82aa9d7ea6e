"""The error report as a pharmacy reads it, in a spreadsheet or in ``pmp ingest``'s output:
each error's segment, line and byte offset, so an error in a file without line breaks (all
on line 1) can still be found."""

from __future__ import annotations

import csv
import io

from gateway.openapi import build_spec
from gateway.service import GatewayService
from services.submissions.error_report import place, report_csv

HEADINGS = ["Segment #", "Line", "Byte offset", "Segment", "Field", "Value", "Message", "Severity"]
ERROR = {
    "segment_number": 8,
    "line": 1,
    "byte_offset": 212,
    "segment": "DSP",
    "field": "DSP08",
    "value": "12345",
    "message": "Give an 11-digit NDC.",
    "severity": "error",
}
EARLIER = {**ERROR, "segment_number": None, "line": 3, "byte_offset": None}  # stored before


NOTE = {
    **ERROR,
    "segment": "PAT",
    "field": "PAT07",
    "value": "MUÑOZ",
    "message": "PAT07 is not UTF-8 text: it was read as Latin-1 (ISO 8859-1) and kept",
    "severity": "note",
}


def test_the_csv_has_the_columns_in_order_with_headings_a_person_reads():
    rows = list(csv.reader(io.StringIO(report_csv([ERROR, EARLIER, NOTE]))))
    assert rows == [
        HEADINGS,
        ["8", "1", "212", "DSP", "DSP08", "12345", "Give an 11-digit NDC.", "error"],
        ["", "3", "", "DSP", "DSP08", "12345", "Give an 11-digit NDC.", "error"],  # not known then
        ["8", "1", "212", "PAT", "PAT07", "MUÑOZ", NOTE["message"], "note"],
    ]


def test_an_error_is_placed_by_its_segment_line_and_byte():
    assert place(ERROR) == "segment 8 (line 1, byte offset 212)"
    assert place(EARLIER) == "line 3"


def test_the_api_document_describes_each_errors_segment_and_byte_offset():
    schema = build_spec(GatewayService, "test")["components"]["schemas"]["SubmissionError"]
    assert list(schema["properties"]) == [
        "segment_number", "line", "byte_offset", "segment", "field", "value", "message", "severity"
    ]  # fmt: skip
    assert {"segment_number", "byte_offset"} <= set(schema["required"])
    for name in ("segment_number", "line", "byte_offset"):
        assert schema["properties"][name]["description"], name
