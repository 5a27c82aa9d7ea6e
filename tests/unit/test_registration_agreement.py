"""The User Agreement, and the confirmation an applicant prints, signs and keeps.

The confirmation is read back through poppler (pdftotext, pdfinfo, pdftoppm), as in the
credential letter's tests: a missing tool fails these tests, it never skips them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from services.registration.agreement import AGREEMENT_VERSION, agreement
from services.registration.confirmation import ConfirmationData, render_confirmation
from tests.helpers.pdf import poppler, words_of

FORM = {
    "first_name": "Zoë",
    "last_name": "Øvergaard",
    "job": "Physician",
    "facility": "Saint Francis Hospital and Medical Center",
    "email": "zoe.overgaard@example.org",
    "phone": "(860) 555-0100",
    "fax": "(860) 555-0199",
    "address_line1": "114 Woodland Street",
    "address_line2": "",
    "city": "Hartford",
    "state": "CT",
    "zip": "06105-1208",
    "csp_number": "CSP.0012345",
    "dea_number": "AB1234563",
    "npi": "1234567893",
    "license_number": "047123",
    "specialty": "Internal medicine",
}

DATA = ConfirmationData(
    applicant_name="Zoë Øvergaard",
    email="zoe.overgaard@example.org",
    role="prescriber",
    form=FORM,
    documents=("licence.pdf", "dea-certificate.png"),
    agreement_version=AGREEMENT_VERSION,
    accepted_at=datetime(2026, 11, 29, 15, 30, tzinfo=UTC),
    printed_at=datetime(2026, 11, 29, 15, 31, tzinfo=UTC),
    timezone=ZoneInfo("America/New_York"),
)


def test_the_agreement_has_the_shape_of_the_contract():
    text = agreement()

    assert text["version"] == AGREEMENT_VERSION == "2026-11"
    assert text["title"]
    items = [item for section in text["sections"] for item in section["items"]]
    assert all(section["heading"] and section["items"] for section in text["sections"])
    assert 18 <= len(items) <= 24
    assert all(isinstance(item, str) and item.endswith(".") for item in items)


@pytest.mark.parametrize(
    "duty",
    [
        "never share my password",
        "lock my computer or sign out",
        "HIPAA",
        "official purposes only",
        "need to know",
        "security breach",
        "investigation or audit",
        "suspend or revoke",
        "logged",
        "bona fide practitioner-patient",
        "case number",
        "including the patient",
        "remains responsible",
    ],
)
def test_the_agreement_states_each_duty(duty):
    assert duty in " ".join(item for s in agreement()["sections"] for item in s["items"])


def test_the_agreement_has_a_user_responsibilities_section():
    assert "User Responsibilities" in [s["heading"] for s in agreement()["sections"]]


def test_a_caller_cannot_change_the_agreement_others_see():
    agreement()["sections"][0]["items"].append("I owe the program money.")

    assert "I owe the program money." not in agreement()["sections"][0]["items"]


def render(data: ConfirmationData, folder: Path) -> Path:
    path = folder / "confirmation.pdf"
    path.write_bytes(render_confirmation(data))
    return path


def text_of(data: ConfirmationData, folder: Path) -> str:
    """The document's text with every run of whitespace made one space."""
    return words_of(render(data, folder))


def test_the_confirmation_shows_the_applicant_and_what_they_submitted(tmp_path):
    text = text_of(DATA, tmp_path)

    assert "Registration confirmation" in text
    assert "Connecticut Prescription Monitoring and Reporting System" in text
    assert "Zoë Øvergaard" in text
    assert "zoe.overgaard@example.org" in text
    assert "Role applied for Prescriber" in text
    for label, value in [
        ("DEA number", "AB1234563"),
        ("NPI", "1234567893"),
        ("Fax number", "(860) 555-0199"),
        ("ZIP code", "06105-1208"),
        ("Specialty", "Internal medicine"),
    ]:
        assert f"{label} {value}" in text
    assert "licence.pdf" in text and "dea-certificate.png" in text


def test_the_confirmation_records_the_agreement_accepted(tmp_path):
    text = text_of(DATA, tmp_path)

    assert "Version 2026-11" in text
    assert "Accepted November 29, 2026, 10:30 AM EST" in text  # the program's time zone
    for section in agreement()["sections"]:
        assert section["heading"] in text
        for item in section["items"]:
            assert " ".join(item.split()) in text


def test_the_confirmation_ends_with_a_signature_and_date_line(tmp_path):
    text = text_of(DATA, tmp_path)

    assert text.index("Signature of Zoë Øvergaard") > text.index(
        agreement()["sections"][-1]["items"][-1]
    )
    assert "Date" in text[text.index("Signature of") :]


def test_every_page_is_numbered(tmp_path):
    pdf = render(DATA, tmp_path)
    pages = int(re.search(r"^Pages:\s+(\d+)$", poppler("pdfinfo", pdf), re.MULTILINE)[1])

    assert pages >= 2  # the agreement text does not fit on the first page
    text = poppler("pdftotext", pdf, "-")
    for page in range(1, pages + 1):
        assert f"Page {page} of {pages}" in text


def test_metadata_names_the_document_but_not_the_person(tmp_path):
    info = poppler("pdfinfo", render(DATA, tmp_path))

    assert re.search(r"^Title:\s+CPMRS registration confirmation$", info, re.MULTILINE)
    assert "vergaard" not in info and "zoe.overgaard" not in info


def test_names_outside_latin1_are_approximated_not_fatal(tmp_path):
    """The core PDF fonts hold latin-1 only (as in the credential letter): "Ł" reads "L", and a
    character with no latin form, like 李, is shown as "?" rather than failing the download."""
    data = replace(DATA, applicant_name="Łukasz 李", form={**FORM, "first_name": "Łukasz 李"})

    text = text_of(data, tmp_path)

    assert "Lukasz ?" in text


def test_optional_answers_left_blank_and_no_documents_are_shown_as_such(tmp_path):
    text = text_of(replace(DATA, documents=(), accepted_at=None), tmp_path)

    assert "Address line 2 -" in text
    assert "No documents were attached." in text
    assert "Accepted Not accepted yet" in text


@pytest.mark.parametrize("role", ["pharmacist", "law_enforcement", "delegate"])
def test_each_role_shows_its_own_fields(tmp_path, role):
    form = {"supervisor_email": "dr.lee@example.org", "ncpdp": "0712345", "agency": "CSP"}

    text = text_of(replace(DATA, role=role, form=form), tmp_path)

    shown = {"pharmacist": "Pharmacy NCPDP number 0712345", "law_enforcement": "Agency CSP"}
    assert shown.get(role, "Supervisor's email address dr.lee@example.org") in text
    assert "DEA number" not in text


def test_the_pages_render_and_are_not_blank(tmp_path):
    pdf = render(DATA, tmp_path)
    poppler(
        "pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", pdf, tmp_path / "p"
    )

    with Image.open(tmp_path / "p.png") as image:
        assert image.size == (510, 660)  # US Letter at 60 dpi
        shades = image.convert("L").histogram()
    ink = sum(shades[:128]) / sum(shades)
    assert 0.01 < ink < 0.25, f"{ink:.1%} of the page is dark"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(DATA, accepted_at=datetime(2026, 11, 29, 10, 30))
