"""A small streaming writer of ASAP 4.2 files (4.2A and 4.2B too), the inverse of :mod:`asap`.

Segments are built from plain dicts with the keys the parser produces (the field tables of
:mod:`asap_segments`), written with ``*`` between elements and ``~`` after each segment,
followed by a newline for readability. Trailing empty elements are left out. Each segment is
written as soon as it is complete, so memory stays constant however long the file::

    with open(path, "wb") as file:
        writer = AsapWriter(file, "CN0001", datetime(2024, 2, 1, 2, 0))
        writer.open_pharmacy({"npi": ..., "ncpdp": ..., "name": ..., ...})
        writer.add_dispensation(patient, dispensation, prescriber)
        writer.close_pharmacy()  # TP: segments from PHA through TP
        writer.close()  # TT: segments from TH through TT; TT01 = TH02

Counts are those :func:`asap.check_structure` checks: ``TP01`` counts a pharmacy's segments
from ``PHA`` through ``TP`` inclusive, ``TT02`` the file's from ``TH`` through ``TT``.

Values: ``date`` is written CCYYMMDD, ``Decimal``/``int`` as plain numbers, ``None`` and ``""``
as an empty element. A value holding the separator, the terminator or a line break, or a key
the segment does not have, raises ``ValueError`` (the file would not parse back). Field formats
(NPI check digits, lengths) are not checked here: :mod:`asap` does that on the way back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

from services.submissions.asap_segments import TABLES, VERSIONS

__all__ = ["AsapWriter"]

SEPARATOR = "*"
TERMINATOR = "~"
_FORBIDDEN = (SEPARATOR, TERMINATOR, "\n", "\r")

#: Filled in when a dispensation dict leaves them out (``None`` counts as left out).
DISPENSATION_DEFAULTS = {"status": "00", "product_qualifier": "01", "dosage_units_code": "01"}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        raise ValueError("a datetime is not an ASAP element; pass a date")
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, bool):
        raise ValueError("a bool is not an ASAP element")
    text = str(value)
    for ch in _FORBIDDEN:
        if ch in text:
            raise ValueError(f"an element may not contain {ch!r}")
    return text


class AsapWriter:
    """Writes one ASAP file to a binary ``file`` as the methods are called (see module doc).

    The writer does not close ``file``. ``close()`` (or leaving a ``with`` block without an
    exception) writes the ``TT`` trailer.
    """

    def __init__(
        self,
        file: BinaryIO,
        control_number: str,
        created: datetime,
        *,
        source_id: str = "CPMRS",
        source_name: str = "CPMRS DEMO DATA",
        file_type: str = "P",
        version: str = "4.2",
    ) -> None:
        if version not in VERSIONS:
            raise ValueError(f"version must be one of {', '.join(VERSIONS)}")
        self.file = file
        self.control_number = control_number
        self.tables = TABLES[version]
        self.segment_count = 0  # TH .. last written
        self.block_count = 0  # PHA .. last written, in the open block
        self.record_count = 0  # dispensation groups written (zero reports not counted)
        self.pharmacy_count = 0
        self._state = "file"  # "file" (between blocks), "block" (PHA open), "closed"
        self._block_groups = 0
        self._last_patient: dict | None = None
        head = [
            "TH",
            version,
            _text(control_number),
            "01",
            "",
            _text(created.date()),
            created.strftime("%H%M"),
            _text(file_type),
            "",
            TERMINATOR,
        ]
        self._write(head)
        self._write(["IS", _text(source_id), _text(source_name)])

    # ------------------------------------------------------------------ low level
    def _write(self, elements: list[str]) -> None:
        while len(elements) > 1 and elements[-1] == "":
            elements.pop()
        self.file.write((SEPARATOR.join(elements) + TERMINATOR + "\n").encode("utf-8"))
        self.segment_count += 1
        self.block_count += 1

    def _segment(self, seg: str, values: Mapping[str, Any]) -> list[str]:
        table = self.tables[seg]
        known = {f.key: f.no for f in table}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"{seg} has no field {', '.join(unknown)}")
        elements = ["" for _ in range(max(known.values()) + 1)]
        elements[0] = seg
        for key, value in values.items():
            elements[known[key]] = _text(value)
        return elements

    def _need(self, state: str, what: str) -> None:
        if self._state == state:
            return
        if self._state == "closed":
            raise ValueError(f"{what}: the file is closed")
        if self._state == "block":
            raise ValueError(f"{what}: a pharmacy block is open (close_pharmacy first)")
        raise ValueError(f"{what}: no pharmacy block is open (open_pharmacy first)")

    # ------------------------------------------------------------------ public API
    def open_pharmacy(self, pharmacy: Mapping[str, Any]) -> None:
        """Starts a pharmacy block with its PHA segment (keys: npi, ncpdp, dea, name, ...)."""
        self._need("file", "open_pharmacy")
        self.block_count = 0
        self._write(self._segment("PHA", pharmacy))
        self._state = "block"
        self._block_groups = 0
        self._last_patient = None
        self.pharmacy_count += 1

    def add_dispensation(
        self,
        patient: Mapping[str, Any],
        dispensation: Mapping[str, Any],
        prescriber: Mapping[str, Any] | None,
        additional: Mapping[str, Any] | None = None,
    ) -> None:
        """A dispensation group: PAT (left out when equal to the previous group's), DSP, PRE,
        and AIR when ``additional`` is given (who dropped off or picked up, ...).

        ``dispensation`` gets ``DISPENSATION_DEFAULTS`` for the keys it leaves out. A void
        (status ``02``) may have no prescriber.
        """
        self._need("block", "add_dispensation")
        dsp = dict(dispensation)
        for key, value in DISPENSATION_DEFAULTS.items():
            if dsp.get(key) is None:
                dsp[key] = value
        pat = dict(patient)
        pat_elements = self._segment("PAT", pat)
        dsp_elements = self._segment("DSP", dsp)
        pre_elements = self._segment("PRE", prescriber) if prescriber is not None else None
        air_elements = self._segment("AIR", additional) if additional is not None else None
        if pat != self._last_patient:
            self._write(pat_elements)
            self._last_patient = pat
        self._write(dsp_elements)
        if pre_elements is not None:
            self._write(pre_elements)
        if air_elements is not None:
            self._write(air_elements)
        self._block_groups += 1
        self.record_count += 1

    def add_zero_report(self, report_date: date) -> None:
        """A zero report: PAT07/PAT08 ``REPORT``/``ZERO``, DSP05 the period's date, empty PRE."""
        self._need("block", "add_zero_report")
        self._write(self._segment("PAT", {"last_name": "REPORT", "first_name": "ZERO"}))
        self._write(self._segment("DSP", {"date_filled": report_date}))
        self._write(["PRE"])
        self._block_groups += 1
        self._last_patient = None

    def close_pharmacy(self) -> None:
        """Ends the block with TP; TP01 counts the block's segments, PHA and TP included."""
        self._need("block", "close_pharmacy")
        if not self._block_groups:
            raise ValueError("close_pharmacy: the block is empty; add a zero report instead")
        self._write(["TP", str(self.block_count + 1)])
        self._state = "file"

    def close(self) -> None:
        """Ends the file with TT; TT02 counts every segment, TH and TT included."""
        self._need("file", "close")
        if not self.pharmacy_count:
            raise ValueError("close: the file has no pharmacy block")
        self._write(["TT", _text(self.control_number), str(self.segment_count + 1)])
        self._state = "closed"

    def __enter__(self) -> AsapWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and self._state != "closed":
            self.close()
