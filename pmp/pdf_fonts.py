"""Fonts parsed once per process, embedded afresh in each PDF.

fpdf2's ``add_font`` reads the whole TrueType file (cmap, widths, glyph table) for every
document, and writing the PDF reads it again to cut the subset of glyphs used: together
more than the rest of a report. So each face is first reduced, once per process, to what
fpdf2 embeds: no OpenType layout tables (they serve text shaping, which these documents do
not turn on, and fpdf2 drops them from the subset anyway), no kerning, math or FontForge
tables, and one Unicode cmap instead of five. Every glyph and its hinting stay, so every
script the face covers still renders. The reduced face
is parsed once for its metrics; each document gets a copy that shares them and owns what a
document changes: its glyph subset and the fontTools object the subsetter cuts down.
"""

from __future__ import annotations

import copy
import tempfile
from functools import cache
from io import BytesIO
from pathlib import Path

from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

UNUSED = ("GSUB", "GPOS", "GDEF", "kern", "MATH", "FFTM")
UNICODE_FULL = (3, 10)  # Windows, Unicode full repertoire (format 12)


@cache
def _reduced(path: Path) -> bytes:
    font = ttLib.TTFont(path, recalcTimestamp=False)
    for table in UNUSED:
        if table in font:
            del font[table]
    cmap = font["cmap"]
    full = [t for t in cmap.tables if (t.platformID, t.platEncID) == UNICODE_FULL]
    cmap.tables = full or [t for t in cmap.tables if t.platformID == 3]
    data = BytesIO()
    font.save(data)
    return data.getvalue()


@cache
def _parsed(path: Path, family: str, style: str) -> TTFFont:
    with tempfile.TemporaryDirectory(prefix="cpmrs-font-") as folder:
        reduced = Path(folder) / path.name
        reduced.write_bytes(_reduced(path))
        pdf = FPDF()
        pdf.add_font(family, style, str(reduced))
        return pdf.fonts[f"{family.lower()}{style}"]


def embed_font(pdf: FPDF, family: str, style: str, path: Path) -> None:
    """What ``pdf.add_font(family, style, path)`` does, without parsing the file again."""
    font = copy.copy(_parsed(path, family, style))
    font.i = len(pdf.fonts) + 1
    font.ttfont = ttLib.TTFont(BytesIO(_reduced(path)), recalcTimestamp=False, lazy=True)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    pdf.fonts[font.fontkey] = font
