"""The registration confirmation: what the applicant submitted, to print, sign and keep.

It shows the answers and documents as the program holds them and the full text of the User
Agreement version accepted, so the signed page records exactly what was agreed to. The fonts
are the PDF core fonts, as in the credential letter: names are shown as written when latin-1
has them ("Zoë Øvergaard") and approximated otherwise (see ``pmp.pdf.latin1``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    latin1,
    letter_document,
    long_date,
    long_datetime,
)
from services.identity.roles import Role
from services.registration.agreement import agreement
from services.registration.forms import fields_for

MARGIN = 0.9
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN
FOOTER_TOP = 10.3
LABEL_WIDTH = 2.4
LINE = 0.2  # body line height
SIGNATURE_BLOCK_HEIGHT = 1.5  # kept on one page


@dataclass(frozen=True)
class ConfirmationData:
    """Everything the confirmation shows; ``agreement_text`` is the version accepted."""

    applicant_name: str
    email: str  # the sign-in address
    role: str
    form: Mapping[str, str]
    documents: Sequence[str]  # display file names
    agreement_version: str
    accepted_at: datetime | None  # UTC-aware; None if not accepted yet
    printed_at: datetime  # UTC-aware
    timezone: ZoneInfo  # the program's, for showing times
    agreement_text: Mapping = field(default_factory=agreement)

    def __post_init__(self) -> None:
        """Refuse naive datetimes: they would be read as the server's local time, silently."""
        for moment in (self.accepted_at, self.printed_at):
            if moment is not None and moment.utcoffset() is None:
                raise ValueError("accepted_at and printed_at must be timezone-aware")


class _Document(FPDF):
    """US Letter in inches, with the program name and page numbers at the foot of each page."""

    def footer(self) -> None:
        self.set_draw_color(*GREY)
        self.set_line_width(0.01)
        self.line(MARGIN, FOOTER_TOP, PAGE_WIDTH - MARGIN, FOOTER_TOP)
        self.set_text_color(*GREY)
        self.set_font("Helvetica", "", 8.5)
        self.set_xy(MARGIN, FOOTER_TOP + 0.08)
        self.cell(TEXT_WIDTH / 2, 0.2, "CPMRS registration confirmation - CONFIDENTIAL")
        self.cell(TEXT_WIDTH / 2, 0.2, f"Page {self.page_no()} of {{nb}}", align=Align.R)


def render_confirmation(data: ConfirmationData) -> bytes:
    """The confirmation as PDF bytes."""
    pdf = letter_document(
        "CPMRS registration confirmation", MARGIN, PAGE_HEIGHT - FOOTER_TOP + 0.15, _Document
    )
    _heading(pdf, data)
    _section(pdf, "Applicant")
    _row(pdf, "Name", data.applicant_name)
    _row(pdf, "Sign-in email", data.email)
    _row(pdf, "Role applied for", Role(data.role).title)
    _section(pdf, "Registration details")
    for spec in fields_for(data.role):
        _row(pdf, spec.label, str(data.form.get(spec.name) or "-"))
    _section(pdf, "Supporting documents")
    _documents(pdf, data.documents)
    _section(pdf, "User Agreement")
    _acceptance(pdf, data)
    _agreement_text(pdf, data.agreement_text)
    _signature(pdf, data.applicant_name)
    return bytes(pdf.output())


def _heading(pdf: FPDF, data: ConfirmationData) -> None:
    """Program, agency, the document's title and what to do with it."""
    pdf.set_text_color(*NAVY)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(TEXT_WIDTH, 0.24, PROGRAM, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*GREY)
    pdf.set_font("Helvetica", "", 10.5)
    pdf.cell(TEXT_WIDTH, 0.2, AGENCY, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(*NAVY)
    pdf.set_line_width(0.02)
    pdf.line(MARGIN, pdf.get_y() + 0.08, PAGE_WIDTH - MARGIN, pdf.get_y() + 0.08)
    pdf.ln(0.25)
    pdf.set_text_color(*NAVY)
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(TEXT_WIDTH, 0.3, "Registration confirmation", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(0.05)
    _paragraph(
        pdf,
        "Print this confirmation, sign and date it at the end, and keep it with your records. "
        f"Printed on {long_date(data.printed_at, data.timezone)}.",
    )


def _section(pdf: FPDF, title: str) -> None:
    """A section title on a pale band; never alone at the foot of a page."""
    if pdf.get_y() + 0.7 > FOOTER_TOP - 0.15:
        pdf.add_page()
    pdf.ln(0.18)
    pdf.set_fill_color(*PALE)
    pdf.set_text_color(*NAVY)
    pdf.set_font("Helvetica", "B", 11.5)
    pdf.cell(TEXT_WIDTH, 0.28, f" {title}", fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(0.08)


def _row(pdf: FPDF, label: str, value: str) -> None:
    """A label on the left and its value beside it, each wrapping if long; kept on one page."""
    label, value = latin1(label), latin1(value)
    label_width, value_width = LABEL_WIDTH - 0.15, TEXT_WIDTH - LABEL_WIDTH
    pdf.set_font("Helvetica", "", 10)
    label_lines = pdf.multi_cell(label_width, LINE, label, dry_run=True, output="LINES")
    pdf.set_font("Helvetica", "", 10.5)
    value_lines = pdf.multi_cell(value_width, LINE, value, dry_run=True, output="LINES")
    height = LINE * max(len(label_lines), len(value_lines), 1)
    if pdf.get_y() + height > FOOTER_TOP - 0.15:
        pdf.add_page()
    top = pdf.get_y()
    pdf.set_text_color(*GREY)
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(label_width, LINE, label, align=Align.L)
    pdf.set_xy(MARGIN + LABEL_WIDTH, top)
    pdf.set_text_color(*DARK)
    pdf.set_font("Helvetica", "", 10.5)
    pdf.multi_cell(value_width, LINE, value, align=Align.L)
    pdf.set_xy(MARGIN, top + height + 0.03)


def _paragraph(pdf: FPDF, text: str, size: float = 10.5) -> None:
    pdf.set_text_color(*DARK)
    pdf.set_font("Helvetica", "", size)
    pdf.multi_cell(TEXT_WIDTH, LINE, text, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _documents(pdf: FPDF, documents: Sequence[str]) -> None:
    if not documents:
        _paragraph(pdf, "No documents were attached.")
        return
    for number, name in enumerate(documents, start=1):
        _row(pdf, f"Document {number}", name)


def _acceptance(pdf: FPDF, data: ConfirmationData) -> None:
    _row(pdf, "Version", data.agreement_version)
    if data.accepted_at is None:
        _row(pdf, "Accepted", "Not accepted yet")
    else:
        _row(pdf, "Accepted", long_datetime(data.accepted_at, data.timezone))


def _agreement_text(pdf: FPDF, text: Mapping) -> None:
    """Title, then each section's heading and its numbered items, numbered through. A
    heading never stands alone at the foot of a page."""
    if pdf.get_y() + 1.1 > FOOTER_TOP - 0.15:
        pdf.add_page()
    pdf.ln(0.15)
    pdf.set_text_color(*NAVY)
    pdf.set_font("Helvetica", "B", 12)
    title = f"{text['title']}, version {text['version']}"
    pdf.cell(TEXT_WIDTH, 0.25, latin1(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    number = 0
    for section in text["sections"]:
        if pdf.get_y() + 0.8 > FOOTER_TOP - 0.15:
            pdf.add_page()
        pdf.ln(0.1)
        pdf.set_text_color(*NAVY)
        pdf.set_font("Helvetica", "B", 10.5)
        pdf.cell(TEXT_WIDTH, 0.22, latin1(section["heading"]), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_text_color(*DARK)
        pdf.set_font("Helvetica", "", 10)
        for item in section["items"]:
            number += 1
            pdf.cell(0.35, 0.19, f"{number}.", align=Align.R)
            pdf.set_x(MARGIN + 0.45)
            pdf.multi_cell(
                TEXT_WIDTH - 0.45,
                0.19,
                latin1(item),
                align=Align.L,
                new_x=XPos.LMARGIN,
                new_y=YPos.NEXT,
            )
            pdf.ln(0.05)


def _signature(pdf: FPDF, name: str) -> None:
    """Signature and date lines, with the printed name under the signature; on one page."""
    if pdf.get_y() + SIGNATURE_BLOCK_HEIGHT > FOOTER_TOP - 0.15:
        pdf.add_page()
    pdf.ln(0.2)
    _paragraph(
        pdf,
        "By signing, I confirm that the information above is true and complete, and that I "
        "have read and accept the User Agreement.",
    )
    y = pdf.get_y() + 0.6
    signature_width, date_x, date_width = 3.9, MARGIN + 4.4, TEXT_WIDTH - 4.4
    pdf.set_draw_color(*DARK)
    pdf.set_line_width(0.01)
    pdf.line(MARGIN, y, MARGIN + signature_width, y)
    pdf.line(date_x, y, date_x + date_width, y)
    pdf.set_text_color(*GREY)
    pdf.set_font("Helvetica", "", 9)
    pdf.set_xy(MARGIN, y + 0.04)
    pdf.cell(signature_width, 0.18, f"Signature of {latin1(name)}")
    pdf.set_xy(date_x, y + 0.04)
    pdf.cell(date_width, 0.18, "Date")
