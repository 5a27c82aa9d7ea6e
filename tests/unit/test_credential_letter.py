"""The credential letter: read back as its recipient would, through poppler's text and pixels.

poppler-utils (pdftotext, pdftoppm, pdfinfo) is required: a missing tool fails these tests,
it never skips them, because a letter nobody looked at is a letter that may not print.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from services.identity.letter import CredentialLetter, render_credential_letter
from tests.helpers.pdf import poppler, words_of

POINTS_PER_INCH = 72

LETTER = CredentialLetter(
    full_name="José Álvarez-Smith",
    address_lines=("Apartment 4B", "1200 Farmington Avenue", "West Hartford, CT 06107-2811"),
    login_email="jose.alvarez-smith@example.org",
    role_title="Prescriber",
    temporary_password="Vq7#mK2p!Xw9",
    issued_at=datetime(2026, 11, 29, 15, 30, tzinfo=UTC),
    expires_at=datetime(2026, 12, 6, 22, 0, tzinfo=UTC),
    sign_in_url="https://cpmrs.example.gov/login",
    timezone=ZoneInfo("America/New_York"),
)


def render(letter: CredentialLetter, folder: Path) -> Path:
    path = folder / "letter.pdf"
    path.write_bytes(render_credential_letter(letter))
    return path


def text_of(letter: CredentialLetter, folder: Path) -> str:
    """The page's text with every run of whitespace made one space."""
    return words_of(render(letter, folder))


def test_the_letter_shows_who_it_is_for_and_how_to_sign_in(tmp_path):
    text = text_of(LETTER, tmp_path)

    assert "José Álvarez-Smith" in text
    for line in LETTER.address_lines:
        assert line in text
    assert LETTER.login_email in text
    assert LETTER.sign_in_url in text
    assert LETTER.temporary_password in text
    assert "CONFIDENTIAL" in text and "November 29, 2026" in text


def test_latin1_names_render_as_written(tmp_path):
    text = text_of(replace(LETTER, full_name="Zoë Ångström"), tmp_path)

    assert "Dear Zoë Ångström," in text


@pytest.mark.parametrize(
    ("expires_at", "shown"),
    [
        (datetime(2026, 12, 6, 22, 0, tzinfo=UTC), "December 6, 2026, 5:00 PM EST"),
        (datetime(2026, 7, 8, 3, 5, tzinfo=UTC), "July 7, 2026, 11:05 PM EDT"),
    ],
)
def test_expiry_is_shown_in_the_program_time_zone(tmp_path, expires_at, shown):
    text = text_of(replace(LETTER, expires_at=expires_at), tmp_path)

    assert f"expires on {shown}." in text


def test_a_name_outside_latin1_is_approximated_not_fatal(tmp_path):
    text = text_of(replace(LETTER, full_name="Łukasz Nowak"), tmp_path)

    assert "Lukasz Nowak" in text  # "Ł" has no latin-1 form; a reader would write "L"


def test_the_page_renders_and_is_not_blank(tmp_path):
    pdf = render(LETTER, tmp_path)
    poppler(
        "pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", pdf, tmp_path / "page"
    )

    page = tmp_path / "page.png"
    assert page.exists()
    with Image.open(page) as image:
        assert image.size == (510, 660)  # US Letter at 60 dpi
        shades = image.convert("L").histogram()  # pixel count per grey level, 0 = black
    ink = sum(shades[:128]) / sum(shades)
    assert 0.01 < ink < 0.25, f"{ink:.1%} of the page is dark"


def test_the_address_shows_through_a_window_envelope_and_the_password_does_not(tmp_path):
    words = words_with_boxes(render(LETTER, tmp_path))
    window = (0.875, 2.0, 0.875 + 4.5, 2.0 + 1.125)  # #10 envelope window: left, top, right, bottom

    address = {w for line in (LETTER.full_name, *LETTER.address_lines) for w in line.split()}
    for word in address:
        assert any(inside(box, window) for box in words[word]), f"{word!r} is outside the window"
    assert not any(overlaps(box, window) for box in words[LETTER.temporary_password])


def test_one_page_even_with_long_details(tmp_path):
    letter = replace(
        LETTER,
        full_name="Dr. Maria-Alejandra Fernández de la Cruz Vasconcelos-Whitmore",
        address_lines=(
            "Department of Internal Medicine, Saint Francis Hospital and Medical Center",
            "Attn: Credentialing Office, Suite 1400",
            "114 Woodland Street",
            "Building C, Floor 3",
            "Hartford, CT 06105-1208",
        ),
        login_email="maria-alejandra.fernandez-vasconcelos@saintfrancis-medical.example.org",
        role_title="Law enforcement (medical marijuana registry only)",
        temporary_password="aB3$dE6&gH9*jK2#mN5!pQ8@sT1^vW4%",
    )

    pdf = render(letter, tmp_path)

    assert re.search(r"^Pages:\s+1$", poppler("pdfinfo", pdf), re.MULTILINE)
    assert letter.temporary_password in poppler("pdftotext", pdf, "-")


def test_metadata_names_the_document_but_not_the_person_or_password(tmp_path):
    pdf = render(LETTER, tmp_path)
    info = poppler("pdfinfo", pdf)

    assert re.search(r"^Title:\s+CPMRS credential letter$", info, re.MULTILINE)
    for secret in (LETTER.temporary_password, "Álvarez", "Alvarez", LETTER.login_email):
        assert secret not in info
        assert secret.encode("latin-1") not in pdf.read_bytes()  # only in compressed text
    assert LETTER.temporary_password not in repr(LETTER)


def test_a_password_that_cannot_be_printed_exactly_is_refused():
    with pytest.raises(ValueError, match="visible ASCII") as refused:
        render_credential_letter(replace(LETTER, temporary_password="Pässwort 1"))

    assert "Pässwort" not in str(refused.value)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(LETTER, expires_at=datetime(2026, 12, 6, 17, 0))


Box = tuple[float, float, float, float]


def words_with_boxes(pdf: Path) -> dict[str, list[Box]]:
    """Each word on the page and where it is, in inches from the top left corner."""
    html = poppler("pdftotext", "-bbox", pdf, "-")
    found: dict[str, list[Box]] = {}
    pattern = (
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
    )
    for *corners, word in re.findall(pattern, html):
        box = tuple(float(c) / POINTS_PER_INCH for c in corners)
        found.setdefault(unescape(word), []).append(box)
    return found


def inside(box: Box, area: Box) -> bool:
    return area[0] <= box[0] and area[1] <= box[1] and box[2] <= area[2] and box[3] <= area[3]


def overlaps(box: Box, area: Box) -> bool:
    return box[0] < area[2] and area[0] < box[2] and box[1] < area[3] and area[1] < box[3]
