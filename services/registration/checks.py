"""Checks of the identifiers an applicant types: pure functions, no I/O.

Each ``*_problem`` function returns a message a person can act on, or None when the value is
acceptable; each ``normalise_*`` function returns the form the program stores. The checks catch
typing errors at the moment they are made (a wrong check digit, a missing digit), so a reviewer
does not have to send an application back for them. They prove nothing about who the applicant
is: the reviewer still looks the numbers up with DEA, NPPES and the state boards.
"""

from __future__ import annotations

import re

# The first letter of a DEA registration number names the registrant type (practitioner,
# mid-level practitioner, distributor, ...). The second is normally the first letter of the
# registrant's last name, or "9" for registrants whose name begins with a number.
DEA_REGISTRANT_TYPES = frozenset("ABCDEFGHJKLMPRSTUX")
DEA_EXAMPLE = "AB1234563"

# USPS codes of the states, the District of Columbia, the territories, and the armed forces
# post offices (an applicant serving abroad may have an APO/FPO address of record).
_US_STATE_CODES = """
AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ
NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY
DC AS GU MP PR VI AA AE AP
"""
US_STATES = frozenset(_US_STATE_CODES.split())

_DEA_SHAPE = re.compile(r"^[A-Z][A-Z9][0-9]{7}$")
_NPI_SHAPE = re.compile(r"^[0-9]{10}$")
_NCPDP_SHAPE = re.compile(r"^[0-9]{7}$")
_ZIP_SHAPE = re.compile(r"^[0-9]{5}(-[0-9]{4})?$")
_PHONE_SEPARATORS = re.compile(r"[\s().\-]")
# The card-issuer prefix 80840 turns an NPI into an ISO 7812 health-card number; its Luhn
# digits (8, 0, 8, 4, 0 with every other one doubled) always add up to 24.
_NPI_PREFIX_SUM = 24


def normalise_dea(dea: str) -> str:
    """Capitals, no spaces: "ab 1234563" is how people copy it off a certificate."""
    return re.sub(r"\s", "", dea).upper()


def dea_problem(dea: str) -> str | None:
    """What is wrong with a DEA registration number, or None.

    The check digit catches every single mistyped digit except, in the 2nd, 4th and 6th
    digits, a change by exactly 5 (those digits are doubled, and 2 x 5 = 10): that is the DEA
    algorithm's own blind spot, not this function's.
    """
    value = normalise_dea(dea)
    if not _DEA_SHAPE.match(value):
        return f"Enter a DEA number of 2 letters and 7 digits, like {DEA_EXAMPLE}"
    if value[0] not in DEA_REGISTRANT_TYPES:
        return (
            f"A DEA number cannot start with {value[0]}; check the first letter on your "
            "DEA registration certificate"
        )
    if _dea_check_digit(value[2:8]) != int(value[8]):
        return "This DEA number's check digit is wrong; check for a typing error"
    return None


def _dea_check_digit(six_digits: str) -> int:
    """(d1 + d3 + d5) + 2 x (d2 + d4 + d6), last digit."""
    d = [int(c) for c in six_digits]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10


def normalise_npi(npi: str) -> str:
    """Digits only where people add spaces or dashes to read it aloud."""
    return re.sub(r"[\s\-]", "", npi)


def npi_problem(npi: str) -> str | None:
    """What is wrong with a National Provider Identifier, or None (Luhn, 80840 prefix)."""
    value = normalise_npi(npi)
    if not _NPI_SHAPE.match(value):
        return "Enter an NPI of 10 digits, like 1234567893"
    if _npi_check_digit(value[:9]) != int(value[9]):
        return "This NPI's check digit is wrong; check for a typing error"
    return None


def _npi_check_digit(nine_digits: str) -> int:
    """Luhn over the 9 digits with the 80840 prefix's contribution added."""
    total = _NPI_PREFIX_SUM
    for position, char in enumerate(reversed(nine_digits)):
        digit = int(char)
        if position % 2 == 0:  # the rightmost digit before the check digit is doubled
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10


def normalise_ncpdp(ncpdp: str) -> str:
    return re.sub(r"[\s\-]", "", ncpdp)


def ncpdp_problem(ncpdp: str) -> str | None:
    """What is wrong with a pharmacy's NCPDP Provider ID, or None."""
    if not _NCPDP_SHAPE.match(normalise_ncpdp(ncpdp)):
        return "Enter the pharmacy's NCPDP number of 7 digits, like 0712345"
    return None


def _phone_digits(phone: str) -> str:
    """The 10 digits of a US number, with separators and the country code 1 taken off."""
    digits = _PHONE_SEPARATORS.sub("", phone)
    if digits.startswith("+1"):
        digits = digits[2:]
    elif digits.startswith("1") and len(digits) == 11:
        digits = digits[1:]
    return digits


def phone_problem(phone: str, what: str = "phone number") -> str | None:
    """What is wrong with a US phone number, or None; ``what`` names it in the message.

    Area codes and exchanges never start with 0 or 1 in the North American plan, so a number
    that does is a typing error (often a digit dropped or added).
    """
    digits = _phone_digits(phone)
    if not (digits.isascii() and digits.isdigit() and len(digits) == 10):
        return f"Enter a {what} of 10 digits, like (860) 555-0100"
    if digits[0] in "01" or digits[3] in "01":
        return (
            f"This {what} cannot be right: US area codes and exchanges do not start with "
            "0 or 1; check for a typing error"
        )
    return None


def normalise_phone(phone: str) -> str:
    """The number as "(860) 555-0100"; only call it on a number ``phone_problem`` accepts."""
    d = _phone_digits(phone)
    return f"({d[:3]}) {d[3:6]}-{d[6:]}"


def normalise_zip(zip_code: str) -> str:
    return zip_code.strip()


def zip_problem(zip_code: str) -> str | None:
    """What is wrong with a ZIP code, or None: 5 digits, or ZIP+4."""
    if not _ZIP_SHAPE.match(normalise_zip(zip_code)):
        return "Enter a ZIP code of 5 digits, or 5 and 4 digits like 06106-1234"
    return None


def normalise_state(state: str) -> str:
    return state.strip().upper()


def state_problem(state: str) -> str | None:
    """What is wrong with a state code, or None: a USPS code of a state or territory."""
    if normalise_state(state) not in US_STATES:
        return "Enter the state as its 2-letter postal code, like CT"
    return None
