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


@pytest.mark.parametrize("digits", ["00002323230", "00000000", "0123", "1234567890123456"])
def test_digits_a_spreadsheet_would_change_are_kept_as_text(digits):
    """A pharmacy sent NDC 00002323230 or a date of 00000000: its error report must show that,
    not 2323230 and 0."""
    assert safe_cell(digits) == f'="{digits}"'
    (row,) = csv.reader(io.StringIO(csv_text(["value"], [[digits]])[len("value\r\n") :]))
    assert row == [f'="{digits}"']


@pytest.mark.parametrize("text", ["0", "19700101", "123456789012345", "0x12", "００１", "0 1"])
def test_digits_a_spreadsheet_reads_as_they_are_and_other_text_stay_plain(text):
    assert safe_cell(text) == text
