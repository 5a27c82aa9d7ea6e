"""Identifier checks: a typing error is caught where it is made, a good number is never refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.registration.checks import (
    DEA_REGISTRANT_TYPES,
    dea_problem,
    ncpdp_problem,
    normalise_dea,
    normalise_phone,
    normalise_state,
    npi_problem,
    phone_problem,
    state_problem,
    zip_problem,
)


def dea_check_digit(six: str) -> str:
    d = [int(c) for c in six]
    return str((d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10)


def npi_check_digit(nine: str) -> str:
    """The NPPES algorithm as published: Luhn over 80840 + the nine digits."""
    total = 0
    for position, char in enumerate(reversed("80840" + nine)):
        d = int(char) * (2 if position % 2 == 0 else 1)
        total += d // 10 + d % 10
    return str((10 - total % 10) % 10)


@st.composite
def valid_deas(draw) -> str:
    first = draw(st.sampled_from(sorted(DEA_REGISTRANT_TYPES)))
    second = draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ9"))
    six = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    return first + second + six + dea_check_digit(six)


@st.composite
def valid_npis(draw) -> str:
    nine = draw(st.text(alphabet="0123456789", min_size=9, max_size=9))
    return nine + npi_check_digit(nine)


def with_digit_changed(number: str, position: int, delta: int) -> str:
    changed = str((int(number[position]) + delta) % 10)
    return number[:position] + changed + number[position + 1 :]


@given(valid_deas())
def test_every_well_formed_dea_number_is_accepted(dea):
    assert dea_problem(dea) is None


@given(valid_deas(), st.integers(2, 8), st.integers(1, 9))
def test_a_mistyped_dea_digit_is_caught(dea, position, delta):
    """Except a change by 5 in a doubled digit (2nd, 4th, 6th): 2 x 5 = 10 leaves the sum's last
    digit as it was. That blind spot is the DEA algorithm's, so the test states it."""
    doubled = position in (3, 5, 7)
    if doubled and delta == 5:
        assert dea_problem(with_digit_changed(dea, position, delta)) is None
    else:
        assert "check digit is wrong" in dea_problem(with_digit_changed(dea, position, delta))


@given(valid_npis())
def test_every_well_formed_npi_is_accepted(npi):
    assert npi_problem(npi) is None


@given(valid_npis(), st.integers(0, 9), st.integers(1, 9))
def test_any_mistyped_npi_digit_is_caught(npi, position, delta):
    assert "check digit is wrong" in npi_problem(with_digit_changed(npi, position, delta))


def test_the_published_examples_are_accepted():
    assert dea_problem("AB1234563") is None
    assert npi_problem("1234567893") is None


def test_dea_numbers_are_accepted_as_people_copy_them():
    assert dea_problem(" ab 1234563 ") is None
    assert normalise_dea(" ab 1234563 ") == "AB1234563"
    assert dea_problem("A91234563") is None  # "9" for registrants whose name starts with one


@pytest.mark.parametrize(
    ("dea", "message"),
    [
        ("AB123456", "Enter a DEA number of 2 letters and 7 digits, like AB1234563"),
        ("AB12345634", "Enter a DEA number of 2 letters and 7 digits, like AB1234563"),
        ("A11234563", "Enter a DEA number of 2 letters and 7 digits, like AB1234563"),
        ("IB1234563", "A DEA number cannot start with I"),
        ("AB1234564", "This DEA number's check digit is wrong; check for a typing error"),
    ],
)
def test_a_wrong_dea_number_says_what_is_wrong(dea, message):
    assert dea_problem(dea).startswith(message)


@pytest.mark.parametrize("npi", ["123456789", "12345678931", "12345678a3", ""])
def test_an_npi_must_have_ten_digits(npi):
    assert npi_problem(npi) == "Enter an NPI of 10 digits, like 1234567893"


def test_ncpdp_is_seven_digits():
    assert ncpdp_problem("0712345") is None
    assert "7 digits" in ncpdp_problem("712345")
    assert "7 digits" in ncpdp_problem("07123456")


@pytest.mark.parametrize(
    "typed",
    ["860-555-0100", "(860) 555-0100", "860.555.0100", "8605550100", "+1 860 555 0100",
     "1-860-555-0100"],
)  # fmt: skip
def test_phone_numbers_are_accepted_as_written_and_shown_one_way(typed):
    assert phone_problem(typed) is None
    assert normalise_phone(typed) == "(860) 555-0100"


@pytest.mark.parametrize("typed", ["860-555-010", "860-555-01000", "+44 20 7946 0958", "555-0100"])
def test_a_phone_number_without_ten_digits_is_refused_by_its_name(typed):
    assert phone_problem(typed, "fax number") == (
        "Enter a fax number of 10 digits, like (860) 555-0100"
    )


def test_an_impossible_area_code_is_a_typing_error():
    assert "area codes" in phone_problem("060 555 0100")
    assert "area codes" in phone_problem("860 155 0100")


@pytest.mark.parametrize("zip_code", ["06106", "06106-1234", " 06106 "])
def test_zip_codes_of_five_or_nine_digits_are_accepted(zip_code):
    assert zip_problem(zip_code) is None


@pytest.mark.parametrize("zip_code", ["6106", "061061234", "06106-123", "ABCDE"])
def test_other_zip_codes_are_refused(zip_code):
    assert "ZIP code" in zip_problem(zip_code)


def test_states_are_postal_codes_in_any_case():
    assert state_problem(" ct ") is None and normalise_state(" ct ") == "CT"
    assert state_problem("PR") is None and state_problem("DC") is None
    assert "2-letter postal code" in state_problem("Connecticut")
    assert "2-letter postal code" in state_problem("XX")
