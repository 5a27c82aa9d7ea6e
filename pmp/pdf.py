"""What the program's PDFs share: its name, colours, letter-size pages with metadata that
names the document and nothing personal, and text the PDF core fonts can show.

The core fonts cover latin-1 only: names are shown as written when latin-1 has them ("José",
"Zoë") and approximated otherwise ("Łukasz" as "Lukasz").
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF

# US Letter, in inches (the unit of every document; font sizes stay in points).
PAGE_WIDTH, PAGE_HEIGHT = 8.5, 11.0

NAVY = (20, 45, 90)
DARK = (30, 30, 30)
GREY = (95, 95, 95)
RED = (170, 20, 20)
PALE = (242, 244, 248)

PROGRAM = "Connecticut Prescription Monitoring and Reporting System (CPMRS)"
AGENCY = "Department of Consumer Protection, Drug Control Division"

# Characters the core PDF fonts cannot show, and what a reader would write instead.
# Anything else outside latin-1 loses its accents (NFKD), or becomes "?" if nothing is left.
_LATIN1_SUBSTITUTES = str.maketrans(
    {
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "Œ": "OE",
        "œ": "oe",
        "ı": "i",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "…": "...",
    }
)


def letter_document(title: str, margin: float, bottom: float, document: type[FPDF] = FPDF) -> FPDF:
    """A first US Letter page; ``bottom`` is the height kept free at the foot of each page."""
    pdf = document(orientation="portrait", unit="in", format="letter")
    pdf.set_title(title)
    pdf.set_author(AGENCY)
    pdf.set_creator("CPMRS")
    pdf.set_lang("en-US")
    pdf.set_margins(margin, 0.6, margin)
    pdf.set_auto_page_break(auto=True, margin=bottom)
    pdf.add_page()
    return pdf


def latin1(text: str) -> str:
    """Text the core fonts can show: latin-1 kept as is ("José", "Zoë"), the rest approximated."""
    shown = []
    for ch in text.translate(_LATIN1_SUBSTITUTES):
        if unicodedata.category(ch) == "Cc":
            shown.append(" ")  # a stray newline or tab must not break the layout
        elif ord(ch) < 256:
            shown.append(ch)
        else:
            base = unicodedata.normalize("NFKD", ch)
            kept = "".join(c for c in base if ord(c) < 256 and not unicodedata.combining(c))
            shown.append(kept or "?")
    return "".join(shown)


def long_date(moment: datetime, timezone: ZoneInfo) -> str:
    """The date as the program's users read it, in the program's zone: December 6, 2026."""
    local = moment.astimezone(timezone)
    return f"{local:%B} {local.day}, {local.year}"


def long_datetime(moment: datetime, timezone: ZoneInfo) -> str:
    """Date, time and zone (December 6, 2026, 5:00 PM EST); no %p, so no locale can change it."""
    local = moment.astimezone(timezone)
    hour = local.hour % 12 or 12
    meridiem = "AM" if local.hour < 12 else "PM"
    return f"{long_date(moment, timezone)}, {hour}:{local:%M} {meridiem} {local:%Z}"
