"""The registration forms as an applicant meets them: what each role is asked, and the messages."""

from __future__ import annotations

import pytest

from services.identity.roles import Role
from services.registration.forms import (
    APPLICABLE_ROLES,
    FORM_ERROR,
    PROFILE_FIELDS,
    fields_for,
    validate_form,
    validate_profile_change,
)

COMMON = {
    "first_name": " Zoë ",
    "last_name": "Øvergaard",
    "job": "Physician",
    "facility": "",
    "email": "zoe@example.org",
    "phone": "860.555.0100",
    "fax": "860-555-0199",
    "address_line1": "114 Woodland Street",
    "address_line2": "",
    "city": "Hartford",
    "state": "ct",
    "zip": "06105",
}
BY_ROLE = {
    "prescriber": {
        "csp_number": "CSP.0012345",
        "dea_number": "ab1234563",
        "npi": "1234567893",
        "license_number": "047123",
        "specialty": "Internal medicine",
    },
    "pharmacist": {
        "license_number": "PCT.0001",
        "pharmacy_name": "Elm Street Pharmacy",
        "ncpdp": "0712345",
        "npi": "1234567893",
    },
    "law_enforcement": {
        "agency": "Hartford Police Department",
        "badge_number": "4471",
        "supervisor_name": "Sgt. Dana Reyes",
        "supervisor_phone": "(860) 555-0142",
        "supervisor_email": "dreyes@example.gov",
    },
    "delegate": {"supervisor_email": "dr.lee@example.org"},
}
BY_ROLE["law_enforcement_mm"] = BY_ROLE["law_enforcement"]


def complete(role: str, **changes) -> dict:
    return {**COMMON, **BY_ROLE[role], **changes}


@pytest.mark.parametrize("role", [str(r) for r in APPLICABLE_ROLES])
def test_a_complete_form_is_accepted_for_every_role(role):
    clean, errors = validate_form(role, complete(role))

    assert errors == {}
    assert set(clean) == {spec.name for spec in fields_for(role)}


def test_answers_are_stripped_and_stored_in_one_form():
    clean, _ = validate_form("prescriber", complete("prescriber"))

    assert clean["first_name"] == "Zoë"
    assert clean["phone"] == "(860) 555-0100" and clean["fax"] == "(860) 555-0199"
    assert clean["state"] == "CT" and clean["dea_number"] == "AB1234563"
    assert clean["facility"] == "" and clean["address_line2"] == ""


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_blank_required_field_asks_for_it_by_name(blank):
    _, errors = validate_form("prescriber", complete("prescriber", fax=blank))

    assert errors == {"fax": "Enter your fax number"}


def test_every_missing_field_gets_its_own_single_message():
    _, errors = validate_form("pharmacist", {})

    required = [spec.name for spec in fields_for("pharmacist") if spec.required]
    assert list(errors) == required
    assert errors["ncpdp"] == "Enter your pharmacy's NCPDP number"
    assert all(isinstance(message, str) for message in errors.values())


def test_optional_fields_may_be_left_out():
    data = complete("delegate")
    del data["facility"], data["address_line2"]

    clean, errors = validate_form("delegate", data)

    assert errors == {} and clean["facility"] == ""


def test_bad_identifiers_say_what_is_wrong():
    form = complete(
        "prescriber",
        dea_number="AB1234564",
        npi="1234567890",
        zip="6105",
        state="Conn",
        phone="555-0100",
        email="zoe@",
    )

    _, errors = validate_form("prescriber", form)

    assert errors == {
        "dea_number": "This DEA number's check digit is wrong; check for a typing error",
        "npi": "This NPI's check digit is wrong; check for a typing error",
        "zip": "Enter a ZIP code of 5 digits, or 5 and 4 digits like 06106-1234",
        "state": "Enter the state as its 2-letter postal code, like CT",
        "phone": "Enter a phone number of 10 digits, like (860) 555-0100",
        "email": "Enter your email address in the form name@example.org",
    }


def test_the_supervisors_email_is_checked_for_delegates():
    _, errors = validate_form("delegate", complete("delegate", supervisor_email="dr.lee"))

    assert "email address of the prescriber or pharmacist" in errors["supervisor_email"]


def test_too_long_answers_are_refused_with_the_limit():
    _, errors = validate_form("prescriber", complete("prescriber", last_name="x" * 101))

    assert errors == {"last_name": "Your last name is too long: keep it to 100 characters or fewer"}
    assert validate_form("prescriber", complete("prescriber", last_name="x" * 100))[1] == {}


def test_unknown_fields_are_refused_by_name():
    _, errors = validate_form("delegate", complete("delegate", dea_number="AB1234563"))

    assert errors == {"dea_number": "This form has no field named 'dea_number'; remove it"}


def test_a_non_text_answer_is_refused():
    _, errors = validate_form("prescriber", complete("prescriber", zip=6105))

    assert errors == {"zip": "Enter your ZIP code as text"}


def test_a_form_that_is_not_a_mapping_is_refused():
    assert validate_form("delegate", ["x"]) == (
        {},
        {FORM_ERROR: "The form was not sent as a set of named fields"},
    )


@pytest.mark.parametrize("role", ["administrator", "applicant", "nobody"])
def test_only_applicable_roles_have_a_form(role):
    with pytest.raises(ValueError, match="not a role one can apply for"):
        validate_form(role, {})


def test_field_descriptions_let_the_gateway_render_the_form():
    specs = fields_for(Role.PRESCRIBER)

    names = [spec.name for spec in specs]
    assert names[:2] == ["first_name", "last_name"] and names[-1] == "specialty"
    by_name = {spec.name: spec for spec in specs}
    assert by_name["fax"].label == "Fax number" and by_name["fax"].input_type == "tel"
    assert by_name["email"].input_type == "email" and by_name["email"].autocomplete == "email"
    assert not by_name["facility"].required and by_name["dea_number"].required
    assert "AB1234563" in by_name["dea_number"].hint
    assert len(names) == len(set(names))


def test_law_enforcement_forms_ask_for_a_supervisor_and_delegates_for_theirs():
    police = {spec.name for spec in fields_for("law_enforcement_mm")}
    delegate = {spec.name for spec in fields_for("delegate")}

    assert {"agency", "badge_number", "supervisor_name", "supervisor_phone"} <= police
    assert "supervisor_email" in delegate and "badge_number" not in delegate


def test_a_profile_change_returns_only_what_was_changed():
    clean, errors = validate_profile_change({"job": " Medical director ", "facility": ""})

    assert errors == {}
    assert clean == {"job": "Medical director", "facility": ""}
    assert set(PROFILE_FIELDS) == {"first_name", "last_name", "facility", "job"}


def test_a_profile_change_keeps_the_form_rules():
    _, errors = validate_profile_change({"last_name": " ", "first_name": "x" * 101})

    assert errors == {
        "last_name": "Enter your last name",
        "first_name": "Your first name is too long: keep it to 100 characters or fewer",
    }


def test_a_profile_change_must_change_something_it_may_change():
    assert validate_profile_change({})[1] == {
        FORM_ERROR: "Change at least one of: first name, last name, facility, job"
    }
    assert "no field named 'email'" in validate_profile_change({"email": "a@b.org"})[1]["email"]
