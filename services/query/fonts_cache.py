"""Fonts parsed once per process, embedded afresh in each PDF.

fpdf2's ``add_font`` reads the whole TrueType file (cmap, widths, glyph table) for every
document: about 80 ms per DejaVu face, more than the rest of a short report. The parsed
metrics never change, so each face is parsed once and every document gets a copy that
shares them and owns what a document changes: its glyph subset and the fontTools font
object that the subsetter cuts down when the PDF is written. That object is read from a
copy of the file without the OpenType layout tables (GSUB, GPOS, GDEF): they serve text
shaping, which these documents do not turn on, and subsetting them cost more than the rest.
"""

from __future__ import annotations

import copy
from functools import cache
from io import BytesIO
from pathlib import Path

from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

UNSHAPED = ("GSUB", "GPOS", "GDEF")  # layout tables, only read by text shaping


@cache
def _parsed(path: Path, family: str, style: str) -> tuple[TTFFont, bytes]:
    pdf = FPDF()
    pdf.add_font(family, style, str(path))
    font = ttLib.TTFont(path, recalcTimestamp=False)
    for table in UNSHAPED:
        if table in font:
            del font[table]
    data = BytesIO()
    font.save(data)
    return pdf.fonts[f"{family.lower()}{style}"], data.getvalue()


def embed_font(pdf: FPDF, family: str, style: str, path: Path) -> None:
    """What ``pdf.add_font(family, style, path)`` does, without parsing the file again."""
    parsed, data = _parsed(path, family, style)
    font = copy.copy(parsed)
    font.i = len(pdf.fonts) + 1
    font.ttfont = ttLib.TTFont(BytesIO(data), recalcTimestamp=False, lazy=True)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    pdf.fonts[font.fontkey] = font
