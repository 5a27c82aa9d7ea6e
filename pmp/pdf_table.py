"""A plain table for the program's report PDFs: wrapped cells, shaded alternate rows, and
the column headings repeated at the top of every page the table runs onto.

fpdf2's ``table()`` does this with ``multi_cell`` twice per cell (once to measure, once to
draw), measuring every character on the way: about 5 ms per dispensation row, so a heavy
patient's three-year report took seconds. Here each word is measured once and lines are
placed with ``text()``, which keeps a 500-row report well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fpdf import FPDF

Colour = tuple[int, int, int]

PAD = 0.04  # inches inside each cell, left and right
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class TableColours:
    heading: Colour  # the headings' background; their text is white
    shade: Colour  # every second row's background
    rule: Colour  # cell borders
    text: Colour


class Table:
    """Column widths in proportion to ``weights`` across the page between the margins."""

    def __init__(
        self,
        pdf: FPDF,
        family: str,
        columns: Sequence[str],
        weights: Sequence[float] | None = None,
        size: float = 7.5,
        line_height: float = 0.15,
    ):
        self.pdf, self.family, self.columns = pdf, family, list(columns)
        self.size, self.line_height = size, line_height
        weights = list(weights or [1.0] * len(self.columns))
        span = pdf.w - pdf.l_margin - pdf.r_margin
        self.widths = [span * w / sum(weights) for w in weights]

    def draw(self, rows: Sequence[Sequence[str]], colours: TableColours) -> None:
        """The headings, then each row; a row that does not fit starts a new page."""
        pdf = self.pdf
        pdf.set_line_width(0.005)
        pdf.set_draw_color(*colours.rule)
        self._row(self.columns, bold=True, fill=colours.heading, colour=WHITE)
        for n, row in enumerate(rows):
            lines = self._wrap(row, bold=False)
            if pdf.get_y() + self._height(lines) > pdf.page_break_trigger:
                pdf.add_page()
                pdf.set_line_width(0.005)
                pdf.set_draw_color(*colours.rule)
                self._row(self.columns, bold=True, fill=colours.heading, colour=WHITE)
            self._place(lines, False, colours.shade if n % 2 else None, colours.text)
        pdf.set_x(pdf.l_margin)

    def _row(self, cells: Sequence[str], bold: bool, fill: Colour, colour: Colour) -> None:
        self._place(self._wrap(cells, bold), bold, fill, colour)

    def _height(self, lines: list[list[str]]) -> float:
        return max(len(cell) for cell in lines) * self.line_height + 0.04

    def _place(
        self, lines: list[list[str]], bold: bool, fill: Colour | None, colour: Colour
    ) -> None:
        pdf = self.pdf
        top, height, x = pdf.get_y(), self._height(lines), pdf.l_margin
        if fill:
            pdf.set_fill_color(*fill)
            pdf.rect(x, top, sum(self.widths), height, style="F")
        pdf.set_font(self.family, "B" if bold else "", self.size)
        pdf.set_text_color(*colour)
        ascent = self.size / 72 * 0.8
        for width, cell in zip(self.widths, lines, strict=True):
            pdf.rect(x, top, width, height, style="D")
            for n, line in enumerate(cell):
                pdf.text(x + PAD, top + 0.02 + n * self.line_height + ascent + 0.01, line)
            x += width
        pdf.set_xy(pdf.l_margin, top + height)

    def _wrap(self, cells: Sequence[str], bold: bool) -> list[list[str]]:
        self.pdf.set_font(self.family, "B" if bold else "", self.size)
        return [self._lines(str(text), width - 2 * PAD)
                for text, width in zip(cells, self.widths, strict=True)]  # fmt: skip

    def _lines(self, text: str, room: float) -> list[str]:
        """Greedy word wrap; a word longer than the cell is cut where it has to be."""
        measure = self.pdf.get_string_width
        whole = " ".join(text.split())
        if measure(whole) <= room:  # most cells: one measure, not one per word
            return [whole]
        lines: list[str] = []
        current = ""
        for word in text.split():
            while measure(word) > room and len(word) > 1:
                cut = next((n for n in range(len(word) - 1, 1, -1) if measure(word[:n]) <= room), 1)
                if current:
                    lines.append(current)
                    current = ""
                lines.append(word[:cut])
                word = word[cut:]
            candidate = f"{current} {word}" if current else word
            if current and measure(candidate) > room:
                lines.append(current)
                candidate = word
            current = candidate
        lines.append(current)
        return lines
