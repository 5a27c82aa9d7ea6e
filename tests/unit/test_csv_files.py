"""Every CSV the program writes goes through one writer, which never lets a cell run as a
spreadsheet formula (OWASP's CSV injection rule) and keeps numbers as numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from pmp.csv_files import csv_text, safe_cell


@pytest.mark.parametrize(
    "text",
    ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
     "\t=1+1", "\r=1+1"],
)  # fmt: skip
def test_text_a_spreadsheet_would_run_gets_a_leading_quote(text):
    assert safe_cell(text) == "'" + text
    (row,) = csv.reader(io.StringIO(csv_text(["value"], [[text]])[len("value\r\n") :]))
    assert row == ["'" + text]


@pytest.mark.parametrize("text", ["Jane Doe", "DSP08", "2024-01-03", "a=b", " =1", "", "'quoted"])
def test_other_text_is_written_as_it_is(text):
    assert safe_cell(text) == text


def test_numbers_stay_numbers_even_when_negative_and_none_is_empty():
    assert [safe_cell(v) for v in (-3, -2.5, Decimal("-1.25"), 0, 7)] == [
        -3, -2.5, Decimal("-1.25"), 0, 7
    ]  # fmt: skip
    assert safe_cell(None) == ""
    assert csv_text(["n", "m"], [[-3, None]]) == "n,m\r\n-3,\r\n"


def test_the_header_and_quotes_inside_cells_are_handled_too():
    text = csv_text(["=name", "role"], [['=HYPERLINK("x")', "Prescriber"]])
    assert text.splitlines() == ["'=name,role", '"\'=HYPERLINK(""x"")",Prescriber']
