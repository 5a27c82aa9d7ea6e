"""The credential letter: how a temporary password reaches its user.

Temporary passwords travel by post, never by email and never through the logs: an
administrator prints this letter and mails it to the user's address of record, so only
someone with access to that mailbox can sign in. The PDF is the one place the password
appears, which is why it stays out of the document's metadata and out of `repr()`.

The page is US Letter, folded in three for a #10 window envelope: the recipient block sits
where the window is, and nothing secret sits near it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from pmp.pdf import (
    AGENCY,
    DARK,
    GREY,
    NAVY,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    PALE,
    PROGRAM,
    RED,
    latin1,
    letter_document,
    long_date,
    long_datetime,
)

# Page geometry, in inches.
MARGIN = 1.0
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN
FOOTER_TOP = 10.05  # the body stops above this; were it to reach it, it would go on page 2

# A standard #10 window envelope shows this part of a letter folded in three. The address is
# printed a little inside it, so the letter can shift in the envelope and stay readable.
WINDOW_LEFT, WINDOW_TOP, WINDOW_WIDTH, WINDOW_HEIGHT = 0.875, 2.0, 4.5, 1.125
WINDOW_INSET = 0.125
ADDRESS_FONT_SIZES = (11, 10, 9, 8)  # largest first; the block shrinks to fit the window
LABEL_WIDTH = 1.75  # the labels of the sign-in details; their values line up after it


@dataclass(frozen=True)
class CredentialLetter:
    """Everything the letter says; the password is kept out of repr so it cannot be logged."""

    full_name: str
    address_lines: tuple[str, ...]  # postal address of record, one line per item
    login_email: str  # the user's sign-in name
    role_title: str  # e.g. "Prescriber", "Administrator"
    temporary_password: str = field(repr=False)
    issued_at: datetime  # UTC-aware
    expires_at: datetime  # UTC-aware
    sign_in_url: str  # e.g. "https://cpmrs.example.gov/login"
    timezone: ZoneInfo  # the program's time zone, for showing the dates

    def __post_init__(self) -> None:
        """Refuse naive datetimes: they would be read as the server's local time, silently."""
        for moment in (self.issued_at, self.expires_at):
            if moment.utcoffset() is None:
                raise ValueError("issued_at and expires_at must be timezone-aware")


def render_credential_letter(letter: CredentialLetter) -> bytes:
    """The letter as PDF bytes."""
    _check_password_is_printable(letter.temporary_password)
    pdf = letter_document("CPMRS credential letter", MARGIN, PAGE_HEIGHT - FOOTER_TOP + 0.1)
    _letterhead(pdf)
    _recipient_block(pdf, letter.full_name, letter.address_lines)
    _date_and_marking(pdf, long_date(letter.issued_at, letter.timezone))
    _opening(pdf, letter)
    _sign_in_details(pdf, letter)
    _password_rules(pdf, long_datetime(letter.expires_at, letter.timezone))
    _closing(pdf)
    _footer(pdf)
    return bytes(pdf.output())


def _check_password_is_printable(password: str) -> None:
    """A password is the one text that must never be 'fixed up': the user types what they read.

    So it must be visible ASCII (no spaces, no accents), or the letter is refused rather than
    printed wrong. The message does not repeat the password.
    """
    if not password or not all("!" <= ch <= "~" for ch in password):
        raise ValueError("the temporary password must be visible ASCII characters only")


def _letterhead(pdf: FPDF) -> None:
    """Program and agency names over a rule, as on the Department's own stationery."""
    pdf.set_xy(MARGIN, 0.6)
    pdf.set_text_color(*NAVY)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(TEXT_WIDTH, 0.24, PROGRAM, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*GREY)
    pdf.set_font("Helvetica", "", 10.5)
    pdf.cell(TEXT_WIDTH, 0.2, AGENCY, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(*NAVY)
    pdf.set_line_width(0.02)
    pdf.line(MARGIN, 1.15, PAGE_WIDTH - MARGIN, 1.15)


def _recipient_block(pdf: FPDF, full_name: str, address_lines: tuple[str, ...]) -> None:
    """Name and address inside the envelope window, in the largest size that fits it."""
    lines = [latin1(line) for line in (full_name, *address_lines) if line.strip()]
    width = WINDOW_WIDTH - 2 * WINDOW_INSET
    height = WINDOW_HEIGHT - 2 * WINDOW_INSET
    pdf.set_text_color(*DARK)
    for size in ADDRESS_FONT_SIZES:
        pdf.set_font("Helvetica", "", size)
        line_height = size * 1.2 / 72
        if len(lines) * line_height <= height and _widest(pdf, lines) <= width:
            break
    y = WINDOW_TOP + WINDOW_INSET
    for line in lines:
        pdf.set_xy(WINDOW_LEFT + WINDOW_INSET, y)
        pdf.cell(width, line_height, _clip(pdf, line, width))
        y += line_height


def _widest(pdf: FPDF, lines: list[str]) -> float:
    """Width of the longest line in the current font, in inches."""
    return max((pdf.get_string_width(line) for line in lines), default=0.0)


def _clip(pdf: FPDF, text: str, width: float) -> str:
    """Text shortened to the width, so an overlong line never leaves the envelope window."""
    while text and pdf.get_string_width(text) > width:
        text = text[:-1]
    return text


def _date_and_marking(pdf: FPDF, issue_date: str) -> None:
    """Issue date and the CONFIDENTIAL mark, right of the window so they do not show through."""
    column = 2.0
    x = PAGE_WIDTH - MARGIN - column
    pdf.set_xy(x, WINDOW_TOP + WINDOW_INSET)
    pdf.set_text_color(*DARK)
    pdf.set_font("Helvetica", "", 10.5)
    pdf.cell(column, 0.2, issue_date, align=Align.R)
    pdf.set_xy(x + column - 1.35, WINDOW_TOP + 0.5)
    pdf.set_text_color(*RED)
    pdf.set_draw_color(*RED)
    pdf.set_line_width(0.015)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(1.35, 0.3, "CONFIDENTIAL", border=1, align=Align.C)


def _opening(pdf: FPDF, letter: CredentialLetter) -> None:
    """Subject line, greeting, and why the letter came."""
    pdf.set_xy(MARGIN, 3.45)
    pdf.set_text_color(*NAVY)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(TEXT_WIDTH, 0.25, "Your temporary CPMRS password", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(0.15)
    _paragraph(pdf, f"Dear {latin1(letter.full_name)},")
    pdf.ln(0.08)
    _paragraph(
        pdf,
        "A CPMRS account has been created for you, or a new temporary password has been issued "
        f"for your existing account. Your role in CPMRS is {latin1(letter.role_title)}. "
        "To sign in, go to the website below and use these details:",
    )
    pdf.ln(0.12)


def _paragraph(pdf: FPDF, text: str) -> None:
    """Body text across the full measure, left-aligned like a typed letter."""
    pdf.set_text_color(*DARK)
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(TEXT_WIDTH, 0.2, text, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _sign_in_details(pdf: FPDF, letter: CredentialLetter) -> None:
    """Website and sign-in name as labelled rows, then the password in its own box."""
    _labelled_row(pdf, "Website", latin1(letter.sign_in_url))
    _labelled_row(pdf, "Sign-in name", latin1(letter.login_email))
    pdf.ln(0.06)
    _password_row(pdf, letter.temporary_password)


def _labelled_row(pdf: FPDF, label: str, value: str) -> None:
    """A bold label on the left and its value beside it, wrapping if the value is long."""
    _label(pdf, label)
    pdf.set_font("Helvetica", "", 11)
    pdf.multi_cell(
        TEXT_WIDTH - LABEL_WIDTH, 0.24, value, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )


def _label(pdf: FPDF, label: str) -> None:
    """The bold left-hand label of a sign-in detail, at the current position."""
    pdf.set_text_color(*DARK)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(LABEL_WIDTH, 0.24, f"{label}:")


def _password_row(pdf: FPDF, password: str) -> None:
    """The password large and boxed, in a monospace font where each character is easy to count.

    Long passwords get a smaller size rather than leaving the box.
    """
    x, y = MARGIN + LABEL_WIDTH, pdf.get_y()
    width, height = TEXT_WIDTH - LABEL_WIDTH, 0.6
    pdf.set_xy(MARGIN, y + (height - 0.24) / 2)  # the label level with the box's middle
    _label(pdf, "Temporary password")
    size = 22
    pdf.set_font("Courier", "B", size)
    while pdf.get_string_width(password) > width - 0.3 and size > 10:
        size -= 1
        pdf.set_font("Courier", "B", size)
    pdf.set_fill_color(*PALE)
    pdf.set_draw_color(*DARK)
    pdf.set_line_width(0.02)
    pdf.rect(x, y, width, height, style="DF")
    pdf.set_xy(x, y)
    pdf.set_text_color(0, 0, 0)
    pdf.cell(width, height, password, align=Align.C)
    pdf.set_xy(MARGIN, y + height + 0.25)


def _password_rules(pdf: FPDF, expires: str) -> None:
    """What the user must know about the password, as a short bulleted list."""
    rules = (
        "The password is case-sensitive: type it exactly as shown.",
        "You must change it when you first sign in.",
        f"It can be used once only, and it expires on {expires}.",
        "If you did not ask for access to CPMRS, call the CPMRS help desk right away.",
        "Never share your password. CPMRS staff will never ask you for it.",
        "Shred this letter once you have signed in and chosen your own password.",
    )
    pdf.set_text_color(*DARK)
    pdf.set_fill_color(*DARK)
    pdf.set_font("Helvetica", "", 11)
    for rule in rules:
        pdf.circle(MARGIN + 0.12, pdf.get_y() + 0.11, 0.025, style="F")  # the bullet
        pdf.set_x(MARGIN + 0.3)
        pdf.multi_cell(
            TEXT_WIDTH - 0.3, 0.22, rule, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        pdf.ln(0.04)


def _closing(pdf: FPDF) -> None:
    """Sign-off from the office that runs the program."""
    pdf.ln(0.2)
    _paragraph(pdf, "Sincerely,")
    pdf.ln(0.25)
    _paragraph(pdf, "CPMRS Program Administration")
    _paragraph(pdf, AGENCY)


def _footer(pdf: FPDF) -> None:
    """A reminder at the foot of the page that the letter itself is the secret."""
    pdf.set_draw_color(*GREY)
    pdf.set_line_width(0.01)
    pdf.line(MARGIN, FOOTER_TOP, PAGE_WIDTH - MARGIN, FOOTER_TOP)
    pdf.set_text_color(*GREY)
    pdf.set_font("Helvetica", "", 8.5)
    note = f"CONFIDENTIAL - this letter contains a password. {PROGRAM}."
    # text() places by baseline and, unlike cell(), never triggers the automatic page break.
    pdf.text((PAGE_WIDTH - pdf.get_string_width(note)) / 2, FOOTER_TOP + 0.2, note)
