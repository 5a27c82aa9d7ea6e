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

Cutting that subset from a face of 6,000 glyphs still took most of a report's time, though
nearly every document is written in the letters of ``COMMON`` (Latin, its accents,
punctuation). So each face is also cut, once per process, to those few hundred glyphs
(their names kept), and a document whose glyphs are all among them is subset from that
small face (``LighterFaces``, the output); any other keeps the whole face.
"""

from __future__ import annotations

import copy
import tempfile
from functools import cache
from io import BytesIO
from pathlib import Path

from fontTools import subset, ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.output import OutputProducer

UNUSED = ("GSUB", "GPOS", "GDEF", "kern", "MATH", "FFTM")
UNICODE_FULL = (3, 10)  # Windows, Unicode full repertoire (format 12)
# Latin with its accents (Latin-1, Extended-A and B), general punctuation, the euro and
# trade mark signs, arrows and the comparison signs the alerts use.
COMMON = (
    *range(0x20, 0x7F), *range(0xA0, 0x250), *range(0x2010, 0x2050),
    0x20AC, 0x2122, *range(0x2190, 0x2196), 0x2212, 0x2264, 0x2265,
)  # fmt: skip
_FACES: dict[str, Path] = {}  # a parsed face's name: its file


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
        parsed = pdf.fonts[f"{family.lower()}{style}"]
        _FACES[parsed.name] = path
        return parsed


@cache
def _common(path: Path) -> tuple[bytes, frozenset[str]]:
    """The face cut to ``COMMON``, glyph names kept, and the names of its glyphs."""
    font = ttLib.TTFont(BytesIO(_reduced(path)), recalcTimestamp=False)
    options = subset.Options(glyph_names=True, notdef_outline=True, recommended_glyphs=True)
    cutter = subset.Subsetter(options)
    cutter.populate(unicodes=COMMON)
    cutter.subset(font)
    data = BytesIO()
    font.save(data)
    return data.getvalue(), frozenset(font.getGlyphOrder())


class LighterFaces(OutputProducer):
    """fpdf2's output, each embedded face whose used glyphs are all common subset from the
    small face instead of the whole one. Here the document is complete: the last footer
    (its watermark may name the requester in any script) is drawn."""

    def bufferize(self) -> bytearray:
        _lighter_faces(self.fpdf)
        return super().bufferize()


def _lighter_faces(pdf: FPDF) -> None:
    for font in pdf.fonts.values():
        path = _FACES.get(getattr(font, "name", ""))
        if path is None or not isinstance(font, TTFFont):
            continue
        data, names = _common(path)
        if set(font.subset.get_all_glyph_names()) <= names:
            font.ttfont = ttLib.TTFont(
                BytesIO(data), recalcTimestamp=False, recalcBBoxes=False, lazy=True
            )


def embed_font(pdf: FPDF, family: str, style: str, path: Path) -> None:
    """What ``pdf.add_font(family, style, path)`` does, without parsing the file again."""
    font = copy.copy(_parsed(path, family, style))
    font.i = len(pdf.fonts) + 1
    font.ttfont = ttLib.TTFont(BytesIO(_reduced(path)), recalcTimestamp=False, lazy=True)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    pdf.fonts[font.fontkey] = font
