"""The program's reports as PDFs (the Patient History Report, statistics, the auditors'
user activity report): landscape letter pages that say who asked and when, carry the
confidentiality line, and have the requester's identity across them as a light watermark,
so a printed page that leaves the office still says whose it was. DejaVu Sans (embedded,
``pmp/fonts/``) shows names in any script.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fpdf import FPDF

from pmp.pdf import AGENCY, DARK, GREY, NAVY, PALE, PROGRAM, RED, long_datetime
from pmp.pdf_fonts import LighterFaces, embed_font
from pmp.pdf_table import Table, TableColours

FONTS = Path(__file__).parent / "fonts"
FONT = "DejaVu"
CONFIDENTIAL = "Confidential: may not be shared, including with the patient."
WATERMARK = (120, 120, 130)  # drawn over the content at low opacity


class ReportDocument(FPDF):
    """Landscape letter pages with the requester's header, footer and watermark."""

    def __init__(self, title: str, requester: dict[str, Any], generated: str, zone: str):
        super().__init__(orientation="landscape", unit="in", format="letter")
        embed_font(self, FONT, "", FONTS / "DejaVuSansCondensed.ttf")
        embed_font(self, FONT, "B", FONTS / "DejaVuSansCondensed-Bold.ttf")
        self.document_title = title
        timezone = ZoneInfo(zone)
        moment = datetime.fromisoformat(generated)
        self.asked = (
            f"Requested by {requester.get('name') or 'unknown'}, "
            f"{requester.get('role_title') or requester.get('role') or ''}, "
            f"on {long_datetime(moment, timezone)}"
        )
        self.mark = (
            f"{requester.get('name') or ''} · {requester.get('role_title') or ''} · "
            f"{str(requester.get('account_id') or '')[:8]} · {moment.astimezone(timezone):%Y-%m-%d}"
        )
        self.set_title(title)
        self.set_author(AGENCY)
        self.set_creator("CPMRS")
        self.set_lang("en-US")
        self.set_margins(0.5, 0.5, 0.5)
        self.set_auto_page_break(auto=True, margin=0.6)
        self.alias_nb_pages()
        self.add_page()

    def output(self, *args: Any, **kwargs: Any) -> bytearray:  # type: ignore[override]
        return super().output(*args, output_producer_class=LighterFaces, **kwargs)

    def header(self) -> None:
        self.set_xy(self.l_margin, 0.35)
        self.set_font(FONT, "B", 8)
        self.set_text_color(*NAVY)
        self.cell(0, 0.16, PROGRAM, new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, "B", 13)
        self.set_text_color(*DARK)
        self.cell(0, 0.24, self.document_title, new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, "", 8)
        self.set_text_color(*GREY)
        self.cell(0, 0.16, self.asked, new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(*NAVY)
        self.set_line_width(0.01)
        self.line(self.l_margin, self.get_y() + 0.04, self.w - self.r_margin, self.get_y() + 0.04)
        self.set_y(self.get_y() + 0.12)
        self.set_text_color(*DARK)

    def _watermark(self) -> None:
        """Across the page, over everything, faint enough to read through."""
        with self.local_context(fill_opacity=0.13):
            self.set_font(FONT, "B", 30)
            self.set_text_color(*WATERMARK)
            width = self.get_string_width(self.mark)
            with self.rotation(28, x=self.w / 2, y=self.h / 2):
                self.text(self.w / 2 - width / 2, self.h / 2, self.mark)

    def footer(self) -> None:
        self._watermark()
        self.set_y(-0.45)
        self.set_font(FONT, "B", 8)
        self.set_text_color(*RED)
        self.cell(0, 0.16, CONFIDENTIAL, align="L")
        self.set_font(FONT, "", 8)
        self.set_text_color(*GREY)
        self.set_x(self.l_margin)
        self.cell(0, 0.16, f"Page {self.page_no()} of {{nb}}", align="R")

    def heading(self, text: str) -> None:
        if self.get_y() > self.h - 1.4:
            self.add_page()
        self.ln(0.08)
        self.set_font(FONT, "B", 10.5)
        self.set_text_color(*NAVY)
        self.cell(0, 0.22, text, new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(*DARK)

    def text_line(self, text: str, size: float = 9, bold: bool = False) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        self.multi_cell(0, size / 60, text, new_x="LMARGIN", new_y="NEXT")

    def table(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[str]],
        widths: Sequence[float] | None = None,
    ) -> None:
        """Rows under navy headings repeated on every page the table runs onto."""
        colours = TableColours(heading=NAVY, shade=PALE, rule=(200, 200, 205), text=DARK)
        Table(self, FONT, columns, widths).draw(rows, colours)


def table_pdf(
    document: dict[str, Any],
    lines: Sequence[str],
    empty: str,
    widths: Sequence[float] | None = None,
) -> bytes:
    """A report that is one table: ``document`` has title, requester, generated_at,
    timezone, columns and rows; ``lines`` come before the table, ``empty`` if it has none;
    ``widths`` are the columns' proportions (equal if not given)."""
    pdf = ReportDocument(
        document["title"], document["requester"], document["generated_at"], document["timezone"]
    )
    for line in lines:
        pdf.text_line(line)
    pdf.ln(0.08)
    pdf.table(document["columns"], [[str(v) for v in row] for row in document["rows"]], widths)
    if not document["rows"]:
        pdf.text_line(empty)
    return bytes(pdf.output())
