"""Streaming parser and validator for ASAP dispensation files (versions 4.2, 4.2A, 4.2B).

Passes over a binary file object, each in constant memory (the file is read in chunks of
``chunk_size`` bytes, split on the segment terminator):

* :func:`check_structure` reads the whole file once and returns a :class:`StructureReport`:
  version, separators, control numbers, counts, pharmacies, number of dispensation records,
  zero-report flag and the *structural* errors. A file with any structural error must be
  rejected as a whole (:attr:`StructureReport.ok` is false).
* :func:`read_records` reads it again and yields one item per dispensation group
  (PAT..DSP..PRE..CDI..AIR): a :class:`Record`, a :class:`RecordRejected` (a bad field in PAT,
  DSP, PRE, CDI or AIR rejects that group only) or a :class:`ZeroReport`. If the file has a
  structural error it raises :class:`FileRejected` at the end (no item after the error, but
  the items before it were yielded), so run :func:`check_structure` first and do not store
  anything from a file it rejects.
* :func:`error_report`, for a file :func:`check_structure` rejected, reads it once more and
  lists every error, structural and of each record, in file order: the pharmacy gets one
  complete report instead of finding the next error after each correction.

After a structural error every pass goes on at the next segment (see :class:`_Parser`), so a
report lists all the file's errors: the first ``MAX_ERRORS`` (1,000), then a line saying how
many more were found. Whether the file is refused is known once it has been read to the end.
Only a file whose separators cannot be read (no TH, no element separator, no TH09) is given up
at once. An unknown version in TH01 is reported and the file checked with the newest
version's tables (the message says so).

Counts, as the ASAP 4.2 standard defines them and as checked here:

* ``TP01`` (Detail Segment Count) is the number of segments of one pharmacy *including* its
  ``PHA`` header and its ``TP`` trailer: every segment from ``PHA`` through ``TP``.
* ``TT02`` (Segment Count) is the number of segments of the whole transaction *including* the
  ``TH`` header and the ``TT`` trailer (``TH``, ``IS``, every pharmacy's segments, ``TT``).
* ``TT01`` must equal ``TH02`` (Transaction Control Number).

Decoding: ASAP asks for ASCII text. UTF-8 is read as well (accents in names). An element whose
bytes are not UTF-8 is read as Latin-1 (ISO 8859-1: every byte is the character of that
number, so ``b"MU\\xd1OZ"`` reads "MUÑOZ") and the record is kept: a pharmacy system writing
a one-byte Western code page means those letters, and refusing the record would leave a
controlled-substance dispensation out of the program over an accent. Each such element is
noted in :attr:`StructureReport.notes` (not an error: the file is not refused for it), naming
the field and where it is, so the pharmacy can correct its export. The file is split on the
terminator byte before decoding, a stretch of whole segments at a time, so a character cut
by a chunk boundary is read whole.

Separators: the data element separator is the character right after ``TH``; the segment
terminator is the character in ``TH09``; both are one ASCII character. Carriage returns, line
feeds, spaces and tabs around segments are stripped (a file may put each segment on its own
line, with LF or CRLF), and a line feed may itself be the terminator. Field values are
stripped of surrounding blanks. A last TT without a terminator is taken as it is; any other
segment without one means the file was cut short, which is reported on that segment.

Dates are checked against the day the file was received (``received_at``, passed in by the
caller): a fill (DSP05), written (DSP03) or birth (PAT18) date may be neither before
1900-01-01 nor more than a day after that day (a pharmacy's clock may already be on the next
day in its time zone), and a prescription is not filled before it was written. Such a record
is refused, naming the field; a void (DSP01 02) is not held to these dates, so a record stored
with an impossible date can still be withdrawn.

Errors are :class:`AsapError` values: line number (physical line of the file where the segment
starts, 1-based), segment number (ordinal of the segment in the file, 1-based) and byte offset
(0-based offset in the file of the segment's first byte): with the last two an error is found
in a file written on one line, as ASAP allows. Then the segment id, field id such as
``"DSP08"``, the offending value (at most 40 characters, for the report shown to the
submitting pharmacy; it may be patient data) and a message a pharmacist can act on. ``str()``
and ``repr()`` of an error, of :class:`FileRejected` and of :class:`RecordRejected` never
contain a value from the file, so they are safe to log.

Nothing but :class:`FileRejected` is raised for any content of the file; errors raised by the
stream's own ``read`` (``OSError``) pass through.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import compress, repeat
from operator import attrgetter, itemgetter, sub
from typing import Any, BinaryIO

from services.query.mm_cards import CARD_NUMBER
from services.submissions.asap_segments import (
    MARIJUANA,
    SEGMENT_NAMES,
    TABLES,
    UNSUPPORTED_VERSIONS,
    VERSIONS,
    Field,
)

__all__ = [
    "AsapError",
    "FileRejected",
    "Record",
    "RecordRejected",
    "StructureReport",
    "ZeroReport",
    "check_structure",
    "error_report",
    "latest_date",
    "read_records",
]

CHUNK_SIZE = 1 << 20
#: A segment longer than this (no terminator found) is a structural error.
MAX_SEGMENT = 64 * 1024
#: At most this many errors are listed in a report (the count keeps going, and a last line
#: says how many more there were).
MAX_ERRORS = 1000
VALUE_LIMIT = 40
#: At most this many CDI segments a dispensation (keeps memory bounded).
MAX_CDI = 100
#: No fill, written or birth date may be earlier than this day.
EARLIEST_DATE = date(1900, 1, 1)
#: Days after the day of receipt (UTC) such a date may still name: the pharmacy's clock may
#: already be on the next day in its time zone.
DAYS_AHEAD = 1

_STATUS = {"00": "new", "01": "revise", "02": "void"}
_BLANKS = " \t\r\n"
_BLANK_BYTES = _BLANKS.encode()
_BOM = "\ufeff".encode()
_KNOWN = frozenset(SEGMENT_NAMES)
#: The segments of a dispensation group.
_GROUP = frozenset(("PAT", "DSP", "PRE", "CDI", "AIR"))


# --------------------------------------------------------------------------- public types


@dataclass(slots=True, frozen=True)
class AsapError:
    """One error: where (line, segment number, byte offset, segment, field), what value, what
    to do.

    ``value`` may hold patient data: it is meant for the pharmacy's error report only, and is
    left out of ``str()`` and ``repr()``.
    """

    line: int
    segment_number: int
    #: Where the segment starts in the file: the 0-based offset of its first byte.
    byte_offset: int
    segment: str
    field: str | None
    value: str = field(repr=False)
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, segment {self.segment_number} at byte {self.byte_offset}"
        where += f" ({self.segment}, {self.field})" if self.field else f" ({self.segment})"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """The error as shown to the submitting pharmacy (value included)."""
        return {
            "line": self.line,
            "segment_number": self.segment_number,
            "byte_offset": self.byte_offset,
            "segment": self.segment,
            "field": self.field,
            "value": self.value,
            "message": self.message,
        }


class FileRejected(Exception):
    """The file has structural errors and is rejected as a whole."""

    def __init__(self, errors: list[AsapError], count: int | None = None):
        self.errors = list(errors)
        first = str(self.errors[0]) if self.errors else "no detail"
        count = len(self.errors) if count is None else count
        super().__init__(f"ASAP file rejected: {count} structural error(s); {first}")


@dataclass(slots=True)
class StructureReport:
    """What :func:`check_structure` (or :func:`error_report`) learnt in one pass; no record is
    kept."""

    version: str | None = None
    element_separator: str | None = None
    segment_terminator: str | None = None
    control_number: str | None = None
    creation_date: date | None = None
    creation_time: str | None = None
    file_type: str | None = None
    source_id: str | None = None
    source_name: str | None = None
    #: One dict a pharmacy (PHA): line, npi, ncpdp, dea, name, record_count, zero_report.
    pharmacies: list[dict[str, Any]] = field(default_factory=list)
    #: Dispensation groups (a DSP and its PRE/CDI/AIR), zero reports not included.
    record_count: int = 0
    zero_report_count: int = 0
    segment_count: int = 0
    #: The first MAX_ERRORS errors in file order; when there were more, a last line says how
    #: many more were found, from which segment on.
    errors: list[AsapError] = field(default_factory=list)
    #: Errors found, listed or not.
    error_count: int = 0
    #: Structural errors found: any one refuses the whole file. (``check_structure`` finds
    #: nothing else; ``error_report`` finds the records' errors too.)
    structural_error_count: int = 0
    #: Not errors: elements that were not UTF-8 and were read as Latin-1 (the first
    #: MAX_ERRORS of them; ``note_count`` counts them all).
    notes: list[AsapError] = field(default_factory=list)
    note_count: int = 0

    @property
    def ok(self) -> bool:
        return self.structural_error_count == 0

    @property
    def zero_report(self) -> bool:
        """True when the file reports a period without dispensations (and nothing else)."""
        return self.zero_report_count > 0 and self.record_count == 0

    def raise_if_rejected(self) -> None:
        if not self.ok:
            raise FileRejected(self.errors, self.structural_error_count)


@dataclass(slots=True)
class Record:
    """One accepted dispensation group.

    ``pharmacy`` is the same dict for every record of a pharmacy block: do not mutate it.
    ``key`` identifies the dispensation a revise (01) or void (02) applies to:
    ``(pharmacy id kind, pharmacy id, prescription number, refill number, date filled)``,
    the pharmacy id being its NCPDP number, else its NPI, else its DEA number.
    """

    line: int
    segment_number: int
    pharmacy: dict[str, Any]
    patient: dict[str, Any]
    dispensation: dict[str, Any]
    prescriber: dict[str, Any] | None
    compounds: list[dict[str, Any]]
    additional: dict[str, Any] | None
    key: tuple
    #: Where its DSP segment's first byte is in the file, as in :class:`AsapError`.
    byte_offset: int = 0

    @property
    def status(self) -> str:
        """``"new"``, ``"revise"`` or ``"void"`` (DSP01 00, 01, 02)."""
        return _STATUS[self.dispensation["status"]]

    def __repr__(self) -> str:  # no patient data in logs
        return f"Record(line={self.line}, status={self.status!r})"


@dataclass(slots=True)
class RecordRejected:
    """A dispensation group rejected for the errors listed; the rest of the file stands.

    ``key`` is as in :class:`Record` when DSP02, DSP05 and DSP06 could be read, else None.
    """

    line: int
    segment_number: int
    pharmacy: dict[str, Any]
    errors: list[AsapError]
    key: tuple | None = None

    def __repr__(self) -> str:
        return f"RecordRejected(line={self.line}, errors={self.errors!r})"


@dataclass(slots=True)
class ZeroReport:
    """A pharmacy reports no dispensation for the period ending ``date`` (DSP05)."""

    line: int
    segment_number: int
    pharmacy: dict[str, Any]
    date: date


# --------------------------------------------------------------------------- field checks

_BAD = object()
_DIGITS = re.compile(r"[0-9]+").fullmatch
_DEC = re.compile(r"[0-9]*\.?[0-9]+|[0-9]+\.").fullmatch
_TIME = re.compile(r"([01][0-9]|2[0-3])[0-5][0-9]([0-5][0-9])?").fullmatch
_STATE = re.compile(r"[A-Za-z]{2}").fullmatch
_DEA = re.compile(r"[A-Za-z][A-Za-z9][0-9]{7}").fullmatch


def _to_date(v: str) -> Any:
    if len(v) != 8 or not _DIGITS(v):
        return _BAD
    try:
        return date(int(v[:4]), int(v[4:6]), int(v[6:]))
    except ValueError:
        return _BAD


def latest_date(received_at: datetime) -> date:
    """The last day a fill, written or birth date of a file received at ``received_at`` may
    name."""
    return received_at.astimezone(UTC).date() + timedelta(days=DAYS_AHEAD)


def _ccyymmdd(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


class _Dates:
    """The date rules of one file, whose receipt day is known."""

    __slots__ = ("received", "latest")

    def __init__(self, received_at: datetime):
        self.latest = latest_date(received_at)
        self.received = self.latest - timedelta(days=DAYS_AHEAD)

    def _outside(self, day: date, fid: str, name: str, advice: str, where: tuple) -> list:
        if EARLIEST_DATE <= day <= self.latest:
            return []
        if day < EARLIEST_DATE:
            why = f"is before {EARLIEST_DATE.isoformat()}"
        else:
            why = f"is after the day the file was received ({self.received.isoformat()})"
        message = f"{fid} ({name}) {why}; {advice}"
        return [AsapError(*where, fid[:3], fid, _ccyymmdd(day), message)]

    def birth(self, patient: dict, where: tuple) -> list:
        """PAT18: not in the future, not before 1900."""
        day = patient["birth_date"]
        if day is None:
            return []
        advice = "send the patient's real date of birth"
        return self._outside(day, "PAT18", "Patient Date of Birth", advice, where)

    def dispensation(self, dsp: dict, where: tuple) -> list:
        """DSP03 and DSP05 within the range, and the fill not before the prescription."""
        written, filled = dsp["date_written"], dsp["date_filled"]
        errors = []
        if written is not None:
            advice = "send the day the prescription was written"
            errors += self._outside(written, "DSP03", "Date Written", advice, where)
        if filled is not None:
            advice = "send the day the prescription was filled"
            errors += self._outside(filled, "DSP05", "Date Filled", advice, where)
        if not errors and written is not None and filled is not None and filled < written:
            message = (
                f"DSP05 (Date Filled) is before DSP03 (Date Written, {written.isoformat()}); "
                "a prescription is filled on or after the day it was written"
            )
            errors.append(AsapError(*where, "DSP", "DSP05", _ccyymmdd(filled), message))
        return errors

    def report_day(self, day: date, where: tuple) -> list:
        """DSP05 of a zero report: the day the report is for."""
        advice = "send the last day of the period the zero report covers"
        return self._outside(day, "DSP05", "Date Filled", advice, where)


def _npi_ok(v: str) -> bool:
    if len(v) != 10 or not _DIGITS(v):
        return False
    # Luhn over "80840" + first nine digits; the tenth is the check digit.
    total = 24  # the constant the NPI standard gives for the 80840 prefix
    for i, ch in enumerate(reversed(v[:9])):
        d = ord(ch) - 48
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == ord(v[9]) - 48


def _is_ndc(v: str) -> bool:
    """11 digits 0-9 (``isdigit`` alone would take other scripts' digits too)."""
    return len(v) == 11 and v.isascii() and v.isdigit()


def _dea_ok(v: str) -> bool:
    if len(v) != 9 or not _DEA(v):
        return False
    d = [ord(c) - 48 for c in v[2:]]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


def _checker(f: Field):
    """(convert, message): convert(value) returns the converted value or _BAD."""
    k, a = f.kind, f.arg
    if k == "text":
        return (lambda v: v if len(v) <= a else _BAD), f"must be at most {a} characters long"
    if k == "int":

        def conv(v):
            return int(v) if len(v) <= a and _DIGITS(v) else _BAD

        return conv, f"must be a whole number of at most {a} digits (no sign, no decimals)"
    if k == "digits":
        lengths = " or ".join(str(n) for n in a)

        def conv(v):
            return v if len(v) in a and _DIGITS(v) else _BAD

        return conv, f"must be exactly {lengths} digits, without dashes or spaces"
    if k == "dec":

        def conv(v):
            if len(v) > a or not _DEC(v):
                return _BAD
            try:
                d = Decimal(v)
            except InvalidOperation:  # pragma: no cover - the regex already excludes it
                return _BAD
            return d if d > 0 else _BAD

        return conv, "must be a number greater than zero, such as 30 or 2.5"
    if k == "date":
        return _to_date, "must be a valid date written CCYYMMDD, such as 20240131"
    if k == "time":
        return (lambda v: v if _TIME(v) else _BAD), "must be a time written HHMM or HHMMSS"
    if k == "code":
        codes = frozenset(a)
        return (lambda v: v if v in codes else _BAD), "must be one of " + ", ".join(a)
    if k == "code2":
        return (lambda v: v if len(v) == 2 and _DIGITS(v) else _BAD), "must be a 2-digit code"
    if k == "state":
        return (lambda v: v.upper() if _STATE(v) else _BAD), "must be a 2-letter state code"
    if k == "zip":

        def conv(v):
            return v if len(v) in (5, 9) and _DIGITS(v) else _BAD

        return conv, "must be a 5- or 9-digit ZIP code without dashes"
    if k == "npi":
        return (
            (lambda v: v if _npi_ok(v) else _BAD),
            "must be a 10-digit NPI with a valid check digit",
        )
    if k == "dea":
        return (
            (lambda v: v.upper() if _dea_ok(v) else _BAD),
            "must be a DEA number (2 letters and 7 digits) with a valid check digit",
        )
    raise AssertionError(k)  # pragma: no cover - tables are fixed


#: Values seen per check, at most (see :class:`_Converted`).
CACHE_SIZE = 4096
#: Longer values are not kept: none is valid (the longest valid is a 15-digit phone number).
_CACHED_LENGTH = 20


class _Converted(dict):
    """value -> converted value (or _BAD when invalid), computed on first use.

    Most values repeat from record to record (dates, codes, quantities, prescriber numbers),
    so a repeat costs one dict lookup. A dict subclass, so that a hit runs no Python code
    (a miss calls ``__missing__``). It keeps short values only and is emptied when full,
    which bounds its memory; the values are immutable, so sharing them is safe.
    """

    __slots__ = ("convert",)

    def __init__(self, convert: Callable[[str], Any]):
        super().__init__()
        self.convert = convert

    def __missing__(self, v: str) -> Any:
        r = self.convert(v)
        if len(v) <= _CACHED_LENGTH:
            if len(self) >= CACHE_SIZE:
                self.clear()
            self[v] = r
        return r


#: (kind, arg) -> (converter, message), shared by every field checked the same way.
_CHECKERS: dict[tuple[str, object], tuple[_Converted, str]] = {}


def _cached_checker(f: Field) -> tuple[_Converted, str]:
    kind = (f.kind, f.arg)
    if kind not in _CHECKERS:
        conv, msg = _checker(f)
        _CHECKERS[kind] = (_Converted(conv), msg)
    return _CHECKERS[kind]


def _picker(indices: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """Like ``itemgetter(*indices)``, but always returning a tuple (even of 0 or 1 items)."""
    if not indices:
        return lambda _seq: ()
    if len(indices) == 1:
        i = indices[0]
        return lambda seq: (seq[i],)
    return itemgetter(*indices)


class _Spec:
    """A compiled segment table, laid out for :func:`_convert` and :func:`_convert_each`.

    ``elements[i - 1]`` is (key, converter or None for plain text, maximum length of plain
    text) for element i, the converter being a :class:`_Converted`. ``bypos[i]`` is (number,
    field id, key, converter, message, maximum length) for element i, None for the segment id.
    """

    __slots__ = (
        "bypos",
        "elements",
        "template",
        "required",
        "required_of",
        "required_width",
        "missing",
        "seen",
    )

    def __init__(self, seg: str, table: tuple[Field, ...]):
        if [f.no for f in table] != list(range(1, len(table) + 1)):
            raise ValueError(f"the {seg} table must list elements 1, 2, 3... in order")
        self.template = dict.fromkeys(f.key for f in table)
        required = [f.no for f in table if f.required]
        self.required = frozenset(required)
        self.required_of = _picker(required)
        self.required_width = max(required, default=0) + 1
        self.bypos: list[tuple | None] = [None]
        self.elements: list[tuple] = []
        self.missing: dict[int, tuple[str, str]] = {}
        self.seen: dict[tuple[str, ...], dict] = {}  # see _convert_recurring
        for f in table:
            conv, msg = _cached_checker(f)
            fid = f"{seg}{f.no:02d}"
            text = f.kind == "text"
            convert = None if text else conv
            maxlen = f.arg if text else 0
            self.elements.append((f.key, convert, maxlen))
            self.bypos.append((f.no, fid, f.key, convert, f"{fid} ({f.name}) {msg}", maxlen))
            self.missing[f.no] = (fid, f"{fid} ({f.name}) is required")


_SPECS = {
    v: {seg: _Spec(seg, table) for seg, table in tables.items()} for v, tables in TABLES.items()
}


def _clip(v: str) -> str:
    return v if len(v) <= VALUE_LIMIT else v[:VALUE_LIMIT]


def _convert(
    spec: _Spec, fields: list[str], line: int, segno: int, offset: int, seg: str, errors: list
):
    """The segment's dict (key -> converted value or None); errors appended to ``errors``.

    This is the path of the usual segment, without error: at the first bad element, or when
    a required one is missing, it leaves the work to :func:`_convert_each`, which reports
    every error of the segment in order.
    """
    out = spec.template.copy()
    vals = fields[1:]
    # compress: the non-empty elements only (most elements of a real file are empty).
    for (key, conv, maxlen), v in compress(zip(spec.elements, vals, strict=False), vals):
        if conv is None:
            if len(v) > maxlen:
                break
            out[key] = v
        else:
            r = conv[v]
            if r is _BAD:
                break
            out[key] = r
    else:  # no bad element: are the required ones all there?
        if len(fields) >= spec.required_width and all(spec.required_of(fields)):
            return out
    return _convert_each(spec, fields, line, segno, offset, seg, errors)


def _convert_recurring(
    spec: _Spec, fields: list[str], line: int, segno: int, offset: int, seg: str, errors: list
):
    """:func:`_convert` for a segment that recurs from record to record (a prescriber).

    A segment without error is remembered (up to CACHE_SIZE of them): the next one with the
    same elements gets a copy of its dict. Elements beyond the table are ignored, so they
    are left out of the key (they could be long).
    """
    key = tuple(fields[: len(spec.elements) + 1])
    seen = spec.seen.get(key)
    if seen is not None:
        return seen.copy()
    n = len(errors)
    out = _convert(spec, fields, line, segno, offset, seg, errors)
    if len(errors) == n:
        if len(spec.seen) >= CACHE_SIZE:
            spec.seen.clear()
        spec.seen[key] = out.copy()
    return out


def _convert_each(
    spec: _Spec, fields: list[str], line: int, segno: int, offset: int, seg: str, errors: list
):
    """:func:`_convert` one element at a time, appending an error for each bad one.

    Only the non-empty elements are visited (most elements of a real file are empty).
    """
    out = spec.template.copy()
    got = []
    for s, v in zip(spec.bypos, fields, strict=False):
        if not v or s is None:  # empty, the segment id, or an element not in this version
            continue
        no, fid, key, conv, bad, maxlen = s
        got.append(no)
        if conv is None:
            if len(v) <= maxlen:
                out[key] = v
                continue
            r = _BAD
        else:
            r = conv[v]
        if r is _BAD:
            errors.append(AsapError(line, segno, offset, seg, fid, _clip(v), bad))
        else:
            out[key] = r
    req = spec.required
    if req and not req.issubset(got):
        missing = spec.missing
        for no in sorted(req.difference(got)):
            fid, msg = missing[no]
            errors.append(AsapError(line, segno, offset, seg, fid, "", msg))
    return out


# --------------------------------------------------------------------------- tokenizer


class _Stop(Exception):
    """Internal: parsing cannot continue (the error is already recorded)."""


def _read(stream, size: int) -> bytes:
    data = stream.read(size)
    if not data:
        return b""
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    return bytes(data)


def _split(s: str, sep: str, partial: bool) -> list[str]:
    """The fields of segment ``s`` (a stripped segment), as :class:`_Tokens` yields them."""
    if partial:
        f = s.split(sep, 9)
        if f[0] in _GROUP:
            return f  # as they are: check_structure reads PAT07 and PAT08 only, and strips them
    f = s.split(sep)
    # Blanks around an element are rare; single-character searches are the cheap ones.
    if " " in s and (sep + " " in s or " " + sep in s) or "\t" in s or "\r" in s or "\n" in s:
        return _stripped(f)
    return f


def _stripped(fields: list[str]) -> list[str]:
    """The segment id as it is (``"PAT "`` is an unknown segment), the elements stripped."""
    return [fields[0]] + [v.strip(_BLANKS) for v in fields[1:]]


def _shown(raw: bytes) -> str:
    """Raw bytes of the file as an error's value: their text, at most VALUE_LIMIT characters."""
    return raw[: 4 * VALUE_LIMIT].decode("utf-8", "replace")[:VALUE_LIMIT]


def _head(raw: bytes) -> bytes:
    """``raw`` without the blanks and byte order marks (UTF-8) before TH."""
    body = raw.lstrip(_BLANK_BYTES)
    while body.startswith(_BOM):
        body = body[len(_BOM) :].lstrip(_BLANK_BYTES)
    return body


class _Tokens:
    """Splits the stream into segments: yields (line, segment number, byte offset, fields).

    The stream is split on the terminator byte, then decoded a stretch of whole segments at a
    time, so a character is never cut and each segment's byte offset is known: where the
    stretch is ASCII (the usual file), a character is a byte. The fields after the segment id
    come stripped of blanks. With ``partial`` (for :func:`check_structure`), the segments of
    a dispensation group (PAT, DSP, PRE, CDI, AIR) are split only up to their 9th element and
    not stripped: it reads only the zero report mark, PAT07 and PAT08.

    A file that ends without a terminator after its last segment: a TT is yielded as it is,
    anything else is kept in ``cut`` (line, segment number, byte offset, fields), not yielded.
    """

    def __init__(self, stream: BinaryIO, chunk_size: int, fail, error, note, partial=False):
        self.stream = stream
        self.partial = partial
        self.chunk_size = max(16, int(chunk_size))
        # fail(line, segno, offset, seg, field, value, message) records an error and raises
        # _Stop; error(...) records one, and reading goes on; note(line, segno, offset, seg,
        # element number, value) notes an element read as Latin-1.
        self.fail, self.error, self.note = fail, error, note
        self.sep = self.term = ""
        self.sep_byte = self.term_byte = b""
        self.eof = False
        self.cut: tuple[int, int, int, list[str]] | None = None

    def _more(self) -> bytes:
        if self.eof:
            return b""
        data = _read(self.stream, self.chunk_size)
        if not data:
            self.eof = True
        return data

    def _header(self):
        """Yields TH, having found the separators; returns what follows it: (the bytes read
        after TH, their line, their byte offset)."""
        fail = self.fail
        raw = self._more()
        while not self.eof and len(_head(raw)) < 3:
            raw += self._more()
        body = _head(raw)
        offset = len(raw) - len(body)
        line = 1 + raw.count(b"\n", 0, offset)
        if not body.startswith(b"TH"):
            message = "The file must start with a TH (Transaction Header) segment"
            fail(line, 1, offset, "TH", None, _shown(body[:3]), message)
        sep = body[2:3]
        if not sep or not sep.isascii() or sep.isalnum() or sep in _BLANK_BYTES:
            message = (
                "The character right after TH must be the data element separator, such as * "
                "(one ASCII character)"
            )
            fail(line, 1, offset, "TH", None, _shown(sep), message)
        # TH09 (segment terminator) follows the 9th separator.
        pos = -1
        for _ in range(9):
            start = pos + 1
            pos = body.find(sep, start)
            while pos == -1 and not self.eof and len(body) < MAX_SEGMENT:
                body += self._more()
                pos = body.find(sep, start)
            if pos == -1 or b"\n" in body[start:pos]:
                message = "TH must have 9 elements; TH09 (Segment Terminator Character) is missing"
                fail(line, 1, offset, "TH", "TH09", "", message)
        while len(body) < pos + 4 and not self.eof:
            body += self._more()
        p = pos + 1
        term = body[p : p + 1]
        if term == b"\r" and body[p + 1 : p + 2] == b"\n":
            term = b"\n"
            p += 1
        if not term or term == sep or not term.isascii() or term.isalnum() or term in b" \t":
            message = "TH09 must hold the segment terminator character, such as ~"
            fail(line, 1, offset, "TH", "TH09", _shown(term), message)
        p += 1
        if body[p : p + 1] == term:
            p += 1
        elif term == b"\n" and body[p : p + 2] == b"\r\n":
            p += 2
        self.sep_byte, self.term_byte = sep, term
        self.sep, self.term = sep.decode(), term.decode()
        text = self._text(body[:pos], line, 1, offset)
        yield line, 1, offset, _stripped(text.split(self.sep)) + [self.term]
        return body[p:], line + body.count(b"\n", 0, p), offset + p

    def _text(self, raw: bytes, line: int, segno: int, offset: int) -> str:
        """A segment's text: UTF-8; an element that is not UTF-8 is read as Latin-1 (each
        byte one character), and noted."""
        try:
            return raw.decode()
        except UnicodeDecodeError:
            pass
        elements = raw.split(self.sep_byte)
        latin = []
        for i, element in enumerate(elements):
            try:
                elements[i] = element.decode()
            except UnicodeDecodeError:
                elements[i] = element.decode("latin-1")
                latin.append(i)
        for i in latin:
            self.note(line, segno, offset, elements[0], i, elements[i])
        return self.sep.join(elements)

    def __iter__(self) -> Iterator[tuple[int, int, int, list[str]]]:
        buf, line, offset = yield from self._header()
        sep, term, term_byte = self.sep, self.term, self.term_byte
        segno = 1
        nl_term = term == "\n"
        partial = self.partial
        while True:
            whole = buf.rfind(term_byte) + 1  # the segments read to their terminator
            if whole:
                stretch, buf = buf[:whole], buf[whole:]
                pieces = self._pieces(stretch)
                if pieces is None:
                    line, segno, offset = yield from self._latin(stretch, line, segno, offset)
                    continue
                parts, lefts, sizes, layout = pieces
                if layout is not None:
                    # The usual layouts: one line, or a segment a line. Every segment has
                    # the same blanks before it (none, or a line end) and no line feed.
                    lead, feeds = layout
                    step = feeds + nl_term
                    segments = map(str.rstrip, lefts, repeat(_BLANKS))
                    for s, size in zip(segments, sizes, strict=True):
                        if s:
                            segno += 1
                            yield line + feeds, segno, offset + lead, _split(s, sep, partial)
                        line += step
                        offset += size + 1
                else:
                    # For each piece, in C: its segment, its line feeds, those after its
                    # leading blanks, the size of its leading blanks (blanks are ASCII: as
                    # many bytes as characters).
                    segments = map(str.rstrip, lefts, repeat(_BLANKS))
                    feeds = map(str.count, parts, repeat("\n"))
                    later = map(str.count, lefts, repeat("\n"))
                    leads = map(sub, map(len, parts), map(len, lefts))
                    for s, nl, after, size, lead in zip(
                        segments, feeds, later, sizes, leads, strict=True
                    ):
                        if s:
                            segno += 1
                            yield line + nl - after, segno, offset + lead, _split(s, sep, partial)
                        line += nl + nl_term
                        offset += size + 1
            if self.eof:
                if buf.strip(_BLANK_BYTES):
                    yield from self._last(buf, line, segno, offset)
                return
            if len(buf) > MAX_SEGMENT:
                segno += 1
                buf, line, offset = self._skip(buf, line, segno, offset)
            buf += self._more()

    def _pieces(self, stretch: bytes):
        """A stretch of whole segments split on the terminator, or None when the stretch is
        not all UTF-8: (the pieces' text, the same without leading blanks, their sizes in
        bytes, the layout). The layout is (blanks before each segment, line feeds among them)
        when every piece starts with the same blanks and holds no other line feed, else
        None."""
        try:
            text = stretch.decode()
        except UnicodeDecodeError:
            return None
        parts = text.split(self.term)
        del parts[-1]  # empty: after the last terminator
        if len(text) == len(stretch):  # ASCII: a character is a byte
            sizes = map(len, parts)
        else:
            raw = stretch.split(self.term_byte)
            del raw[-1]
            sizes = map(len, raw)
        lefts = list(map(str.lstrip, parts, repeat(_BLANKS)))
        n = len(parts)
        if lefts == parts:
            blanks = ""
        else:
            blanks = parts[0][: len(parts[0]) - len(lefts[0])]
            same = all(map(str.startswith, parts, repeat(blanks)))
            if not same or sum(map(len, parts)) - sum(map(len, lefts)) != len(blanks) * n:
                return parts, lefts, sizes, None
        feeds = blanks.count("\n")
        if text.count("\n") != n * (feeds + (self.term == "\n")):
            return parts, lefts, sizes, None
        return parts, lefts, sizes, (len(blanks), feeds)

    def _latin(self, stretch: bytes, line: int, segno: int, offset: int):
        """The loop of :meth:`__iter__`, segment by segment, for a stretch that is not all
        UTF-8 (see :meth:`_text`); returns the line, segment number and offset after it."""
        sep, partial, nl_term = self.sep, self.partial, self.term == "\n"
        parts = stretch.split(self.term_byte)
        del parts[-1]
        for part in parts:
            left = part.lstrip(_BLANK_BYTES)
            s = left.rstrip(_BLANK_BYTES)
            if s:
                segno += 1
                lead = len(part) - len(left)
                at, where = line + part.count(b"\n", 0, lead), offset + lead
                yield at, segno, where, _split(self._text(s, at, segno, where), sep, partial)
            line += part.count(b"\n") + nl_term
            offset += len(part) + 1
        return line, segno, offset

    def _last(self, rest: bytes, line: int, segno: int, offset: int):
        """The last segment, which has no terminator: a TT is taken as it is (a missing last
        terminator is common); anything else means the file was cut short."""
        left = rest.lstrip(_BLANK_BYTES)
        lead = len(rest) - len(left)
        line, offset, segno = line + rest.count(b"\n", 0, lead), offset + lead, segno + 1
        text = self._text(left.rstrip(_BLANK_BYTES), line, segno, offset)
        fields = _split(text, self.sep, self.partial)
        if fields[0] == "TT":
            yield line, segno, offset, fields
        else:
            self.cut = (line, segno, offset, fields)

    def _skip(self, buf: bytes, line: int, segno: int, offset: int) -> tuple[bytes, int, int]:
        """A segment longer than MAX_SEGMENT without a terminator: reported, then passed over
        to its terminator; returns the bytes after it, their line and byte offset."""
        left = buf.lstrip(_BLANK_BYTES)
        lead = len(buf) - len(left)
        message = (
            f"A segment is longer than {MAX_SEGMENT} bytes: the segment terminator declared "
            "in TH09 is missing or wrong; the file is read on from the next terminator"
        )
        at = line + buf.count(b"\n", 0, lead)
        self.error(at, segno, offset + lead, "?", None, _shown(left), message)
        while True:
            end = buf.find(self.term_byte) + 1
            if end:
                return buf[end:], line + buf.count(b"\n", 0, end), offset + end
            line, offset = line + buf.count(b"\n"), offset + len(buf)
            buf = self._more()
            if not buf:
                return b"", line, offset


# --------------------------------------------------------------------------- the parser


def _zero_marker(fields: list[str]) -> bool:
    return (
        len(fields) > 8
        and fields[7].strip(_BLANKS).upper() == "REPORT"
        and fields[8].strip(_BLANKS).upper() == "ZERO"
    )


def pharmacy_key(ph: dict) -> tuple[str, str | None]:
    if ph.get("ncpdp"):
        return "ncpdp", ph["ncpdp"]
    if ph.get("npi"):
        return "npi", ph["npi"]
    return "dea", ph.get("dea")


#: Segments that end the dispensation group before them.
_ENDS_GROUP = frozenset(("DSP", "PAT", "TP", "PHA", "TT"))
#: States in which any segment gets a look first: after TT, and right after TH.
_EDGES = frozenset(("TT", "IS_EXPECTED"))


class _Parser:
    """One pass over a file. ``mode`` is what the pass is for:

    * ``"structure"``: the structure only (:func:`check_structure`);
    * ``"records"``: the items (:func:`read_records`), none after a structural error;
    * ``"report"``: every error, the records' included (:func:`error_report`).

    After a structural error the pass goes on at the next segment, in a state that follows
    the file as far as it can (``ADRIFT``: among segments of a dispensation group that has
    no place, skipped until a PAT inside a pharmacy block, a PHA, TP or TT), so one pass
    finds every error. Only a file whose separators cannot be read stops it.
    """

    def __init__(
        self, stream: BinaryIO, mode: str, chunk_size: int, received_at: datetime | None = None
    ):
        self.mode = mode
        self.build = mode != "structure"
        self.dates = _Dates(received_at) if received_at is not None else None
        self.report = StructureReport()
        self.tokens = _Tokens(
            stream, chunk_size, self._fatal, self._error, self._note, partial=not self.build
        )
        self.specs: dict | None = None
        self.unlisted: AsapError | None = None  # the first error past MAX_ERRORS

    # errors -------------------------------------------------------------
    def _list(self, error: AsapError) -> None:
        r = self.report
        r.error_count += 1
        if len(r.errors) < MAX_ERRORS:
            r.errors.append(error)
        elif self.unlisted is None:
            self.unlisted = error

    def _structural(self, error: AsapError) -> None:
        self.report.structural_error_count += 1
        self._list(error)

    def _error(self, line, segno, offset, seg, fld, value, message) -> None:
        """A structural error: the file is refused; the pass goes on."""
        self._structural(AsapError(line, segno, offset, seg, fld, value, message))

    def _fatal(self, line, segno, offset, seg, fld, value, message):
        """A structural error after which the file cannot be read on."""
        self._error(line, segno, offset, seg, fld, value, message)
        raise _Stop

    def _note(self, line, segno, offset, seg, number, value) -> None:
        r = self.report
        r.note_count += 1
        if len(r.notes) < MAX_ERRORS:
            fid = f"{seg}{number:02d}" if seg in _KNOWN and number else None
            message = (
                f"{fid or 'An element'} is not UTF-8 text: it was read as Latin-1 (ISO 8859-1) "
                "and kept; check that it reads right, and send ASCII (as ASAP asks) or UTF-8"
            )
            value = _clip(value.strip(_BLANKS))
            r.notes.append(AsapError(line, segno, offset, _clip(seg), fid, value, message))

    def _close(self) -> None:
        """The errors listed in file order (a record's are found when it ends, after the
        structural errors inside it), then a line saying how many were not listed, if any."""
        first, r = self.unlisted, self.report
        r.errors.sort(key=attrgetter("segment_number"))
        if first is not None:
            more = r.error_count - MAX_ERRORS
            message = (
                f"{more:,} more errors were found from this segment on and are not listed: "
                f"a report lists the first {MAX_ERRORS:,}; correct these and send the file again"
            )
            where = (first.line, first.segment_number, first.byte_offset, first.segment)
            r.errors.append(AsapError(*where, None, "", message))

    # main loop ----------------------------------------------------------
    def run(self) -> Iterator[Record | RecordRejected | ZeroReport]:
        r = self.report
        try:
            if self.mode == "records":
                for item in self._run():
                    if not r.structural_error_count:
                        yield item
            elif self.mode == "report":
                for item in self._run():
                    if type(item) is RecordRejected:
                        for error in item.errors:
                            self._list(error)
            else:
                for _ in self._run():  # pragma: no cover - yields nothing without build
                    pass
        except _Stop:
            pass
        except RecursionError:  # pragma: no cover - defensive
            self._error(0, 0, 0, "?", None, "", "The file could not be read")
        self._close()
        if self.mode == "records" and not r.ok:
            raise FileRejected(r.errors, r.structural_error_count)

    def _run(self):
        r = self.report
        error = self._error

        def refuse(message: str) -> None:
            """A structural error at the current segment, about no one field."""
            error(line, segno, offset, seg, None, "", message)

        build = self.build
        state = "TH"
        block = False  # inside a pharmacy block: after its PHA, before its TP
        pha_segno = 0
        pharmacy: dict | None = None
        ph_key: tuple = ()
        ph_summary: dict | None = None
        # current patient
        pat_fields = pat_where = None
        pat_zero = False
        pat_cache = None  # (dict, errors, (line, segno, offset), date errors) once validated
        # current dispensation group
        grp: list | None = None  # [line, segno, offset, dsp, pre, cdis, air, errors, sub]
        line = segno = offset = 0
        seg = ""

        def flush():
            nonlocal pat_cache
            if grp is None:
                return None
            if pat_zero:
                r.zero_report_count += 1
                ph_summary["zero_report"] = True
                if build:
                    return self._zero(grp, pharmacy)
                return None
            r.record_count += 1
            ph_summary["record_count"] += 1
            if build:
                if pat_cache is None:
                    errs: list = []
                    pdict = _convert(self.specs["PAT"], pat_fields, *pat_where, "PAT", errs)
                    self._patient_rules(pdict, pat_fields, pat_where, errs)
                    born = self.dates.birth(pdict, pat_where)
                    pat_cache = (pdict, errs, pat_where, born)
                return self._record(grp, pharmacy, ph_key, pat_cache)
            return None

        tokens = iter(self.tokens)
        for line, segno, offset, f in tokens:
            seg = f[0]
            if state in _EDGES:
                if state == "TT":
                    message = (
                        "Segments found after TT (Transaction Trailer): a file holds one "
                        "transaction; nothing after TT is read"
                    )
                    error(line, segno, offset, "?", None, "", message)
                    break
                if seg != "IS":
                    refuse("IS (Information Source) is missing: it must come right after TH")
                    state = "IS"
            if seg not in _KNOWN:
                error(
                    line,
                    segno,
                    offset,
                    "?",
                    None,
                    _clip(seg),
                    "Unknown segment id; ASAP 4.2 segments are "
                    "TH, IS, PHA, PAT, DSP, PRE, CDI, AIR, TP, TT",
                )
                continue
            if state == "DSP" and seg in _ENDS_GROUP:
                item = flush()
                grp = None
                if item is not None:
                    yield item
            if seg == "DSP":
                if state == "PAT" or state == "DSP":
                    grp = [line, segno, offset, f, None, [], None, [], 0]
                    state = "DSP"
                else:
                    if state != "ADRIFT":
                        refuse("DSP must follow a PAT (Patient) segment or another DSP")
                    state = "ADRIFT"
            elif seg == "PRE" or seg == "CDI" or seg == "AIR":
                if state == "DSP":
                    if build:
                        self._sub(grp, seg, f, line, segno, offset)
                elif state != "ADRIFT":
                    refuse(f"{seg} must follow the DSP (Dispensing Record) it belongs to")
                    state = "ADRIFT"
            elif seg == "PAT":
                if state != "DSP" and state != "PHA":
                    if state == "PAT":
                        refuse("The previous PAT segment has no DSP (Dispensing Record)")
                    elif not block:
                        if state != "ADRIFT":
                            refuse("PAT must be inside a pharmacy block (after PHA, before TP)")
                        state = "ADRIFT"
                        continue
                pat_fields, pat_where = f, (line, segno, offset)
                pat_zero = _zero_marker(f)
                pat_cache = None
                state = "PAT"
            elif seg == "PHA":
                if block:
                    refuse(
                        "A new PHA starts before a TP (Pharmacy Trailer) closed the "
                        "previous pharmacy"
                    )
                pharmacy = self._pharmacy(f, line, segno, offset)
                ph_key = pharmacy_key(pharmacy)
                ph_summary = {
                    "line": line,
                    "npi": pharmacy["npi"],
                    "ncpdp": pharmacy["ncpdp"],
                    "dea": pharmacy["dea"],
                    "name": pharmacy["name"],
                    "record_count": 0,
                    "zero_report": False,
                }
                r.pharmacies.append(ph_summary)
                block, pha_segno, state = True, segno, "PHA"
            elif seg == "TP":
                if state == "PHA":
                    refuse(
                        "The pharmacy block has no PAT/DSP segments; send a zero report "
                        "when nothing was dispensed"
                    )
                elif state == "PAT":
                    refuse("The previous PAT segment has no DSP (Dispensing Record)")
                elif not block and state != "ADRIFT":
                    refuse("TP must close a pharmacy block")
                if block:
                    self._count(
                        f,
                        line,
                        segno,
                        offset,
                        "TP",
                        "TP01",
                        segno - pha_segno + 1,
                        "TP01 (Detail Segment Count) must equal the number of segments "
                        "from PHA through TP inclusive",
                    )
                block, state = False, "TP"
            elif seg == "TT":
                if block:
                    refuse("TT found before a TP (Pharmacy Trailer) closed the pharmacy")
                elif state != "TP" and state != "ADRIFT":
                    refuse("TT must follow a pharmacy block (PHA ... TP)")
                self._count(
                    f,
                    line,
                    segno,
                    offset,
                    "TT",
                    "TT02",
                    segno,
                    "TT02 (Segment Count) must equal the number of segments in the "
                    "file from TH through TT inclusive",
                )
                tt01 = f[1] if len(f) > 1 else ""
                if r.control_number is not None and tt01 != r.control_number:
                    error(
                        line,
                        segno,
                        offset,
                        "TT",
                        "TT01",
                        _clip(tt01),
                        "TT01 (Transaction Control Number) must equal TH02",
                    )
                block, state = False, "TT"
                r.segment_count = segno
            elif seg == "IS":
                if state == "IS_EXPECTED":
                    errs: list = []
                    d = _convert(self.specs["IS"], f, line, segno, offset, "IS", errs)
                    for e in errs:
                        self._structural(e)
                    r.source_id, r.source_name = d["source_id"], d["source_name"]
                    state = "IS"
                else:
                    refuse("IS (Information Source) must come right after TH, once")
            elif state == "TH":
                self._header(f, line, segno, offset)
                state = "IS_EXPECTED"
            else:
                refuse(
                    "TH must appear only once, at the start of the file; send "
                    "concatenated files separately"
                )
        else:
            self._end(state, line, segno, offset, seg)

    def _end(self, state: str, line: int, segno: int, offset: int, seg: str) -> None:
        """The file has ended: was it whole?"""
        cut = self.tokens.cut
        if state == "TT":
            if cut is not None:
                message = (
                    "Segments found after TT (Transaction Trailer): a file holds one "
                    "transaction; nothing after TT is read"
                )
                self._error(*cut[:3], "?", None, "", message)
            return
        missing = {"IS_EXPECTED": "IS, PHA ... TP and TT", "IS": "PHA ... TP and TT", "TP": "TT"}
        end = f"{missing.get(state, 'TP and TT')} missing (a complete file ends with a TT segment)"
        if cut is not None:
            line, segno, offset, f = cut
            seg = _clip(f[0])
            message = f"The file ends early, inside this segment (no terminator follows): {end}"
        else:
            message = f"The file ends early, after this segment: {end}"
        self._error(line, segno, offset, seg, None, "", message)

    # segment helpers -----------------------------------------------------
    def _header(self, f, line, segno, offset):
        r = self.report
        r.element_separator, r.segment_terminator = self.tokens.sep, self.tokens.term
        version = f[1].upper() if len(f) > 1 else ""
        if version in VERSIONS:
            r.version = version
        else:
            newest = VERSIONS[-1]
            if version in UNSUPPORTED_VERSIONS:
                msg = f"ASAP version {version} is not accepted yet; send ASAP 4.2, 4.2A or 4.2B"
            else:
                msg = "TH01 must be an ASAP version: 4.2, 4.2A or 4.2B"
            msg += f" (the file was checked as {newest}, to find its other errors)"
            self._error(line, segno, offset, "TH", "TH01", _clip(version), msg)
            version = newest
        self.specs = _SPECS[version]
        errs: list = []
        fields = list(f)
        fields[1] = version
        d = _convert(self.specs["TH"], fields, line, segno, offset, "TH", errs)
        for e in errs:
            self._structural(e)
        # As sent, so TT01 is compared with what TH02 says even when TH02 broke a rule
        # of its own (too long: reported on TH02, not again as a mismatch on TT01).
        r.control_number = d["control_number"] or (f[2].strip() if len(f) > 2 else "")
        r.creation_date, r.creation_time, r.file_type = (
            d["creation_date"],
            d["creation_time"],
            d["file_type"],
        )

    def _pharmacy(self, f, line, segno, offset) -> dict:
        errs: list = []
        d = _convert(self.specs["PHA"], f, line, segno, offset, "PHA", errs)
        if not (d["npi"] or d["ncpdp"] or d["dea"]) and not any(
            e.field in ("PHA01", "PHA02", "PHA03") for e in errs
        ):
            errs.append(
                AsapError(
                    line,
                    segno,
                    offset,
                    "PHA",
                    "PHA01",
                    "",
                    "The pharmacy must be identified by PHA01 (NPI), PHA02 (NCPDP) or PHA03 (DEA)",
                )
            )
        for e in errs:
            self._structural(e)
        return d

    def _count(self, f, line, segno, offset, seg, fid, actual, message):
        no = int(fid[-2:])
        v = f[no] if len(f) > no else ""
        where = (line, segno, offset, seg, fid)
        if not v:
            self._error(*where, "", f"{fid} is required")
        elif not (_DIGITS(v) and len(v) <= 10):
            self._error(*where, _clip(v), f"{fid} must be a whole number")
        elif int(v) != actual:
            self._error(*where, _clip(v), f"{message} ({actual})")

    def _sub(self, grp, seg, f, line, segno, offset):
        sub = grp[8]

        def misplaced(message: str) -> None:
            grp[7].append(AsapError(line, segno, offset, seg, None, "", message))

        if seg == "PRE":
            if sub >= 1:
                misplaced("Only one PRE may follow a DSP, before any CDI or AIR")
            else:
                grp[4] = (line, segno, offset, f)
            grp[8] = max(sub, 1)
        elif seg == "CDI":
            if sub >= 3:
                misplaced("CDI segments must come before the AIR segment")
            elif len(grp[5]) >= MAX_CDI:
                if len(grp[5]) == MAX_CDI:
                    misplaced(f"A compound may list at most {MAX_CDI} CDI ingredients")
                    grp[5].append(None)
            else:
                grp[5].append((line, segno, offset, f))
            grp[8] = max(sub, 2)
        else:
            if sub >= 3:
                misplaced("Only one AIR may follow a DSP")
            else:
                grp[6] = (line, segno, offset, f)
            grp[8] = 3

    def _patient_rules(self, p, f, where, errs):
        if p["country"]:
            return
        for key, no, name in (("state", 15, "Patient State"), ("zip", 16, "Patient ZIP Code")):
            if p[key] is None and not _has(f, no):
                message = f"PAT{no} ({name}) is required for US residents"
                errs.append(AsapError(*where, "PAT", f"PAT{no}", "", message))

    def _record(self, grp, pharmacy, ph_key, pat_cache):
        line, segno, offset, dspf, pre, cdis, air, errs, _sub = grp
        specs = self.specs
        errors = list(pat_cache[1])
        errors.extend(errs)
        dsp = _convert(specs["DSP"], dspf, line, segno, offset, "DSP", errors)
        status = dsp["status"]
        if status != "02":  # a void withdraws a record, whatever its dates
            errors.extend(pat_cache[3])
            errors.extend(self.dates.dispensation(dsp, (line, segno, offset)))
        if dsp["product_qualifier"] == "01" and dsp["ndc"] is not None:
            v = dsp["ndc"]
            if not _is_ndc(v):
                errors.append(
                    AsapError(
                        line,
                        segno,
                        offset,
                        "DSP",
                        "DSP08",
                        _clip(v),
                        "DSP08 (Product ID) must be an 11-digit NDC without "
                        "dashes when DSP07 is 01",
                    )
                )
        prescriber = None
        if pre is not None:
            pl, ps, po, pf = pre
            prescriber = _convert_recurring(specs["PRE"], pf, pl, ps, po, "PRE", errors)
            if not (prescriber["npi"] or prescriber["dea"] or prescriber["state_license"]) and not (
                _has(pf, 1) or _has(pf, 2) or _has(pf, 4)
            ):
                errors.append(
                    AsapError(
                        pl,
                        ps,
                        po,
                        "PRE",
                        "PRE02",
                        "",
                        "The prescriber must be identified by PRE01 (NPI), "
                        "PRE02 (DEA) or PRE04 (state license number)",
                    )
                )
        elif status != "02":
            message = "A PRE (Prescriber) segment must follow this DSP"
            errors.append(AsapError(line, segno, offset, "PRE", None, "", message))
        compounds = []
        for cdi in cdis:
            if cdi is None:
                break
            cl, cs, co, cf = cdi
            c = _convert(specs["CDI"], cf, cl, cs, co, "CDI", errors)
            if c["product_qualifier"] == "01" and c["product_id"] is not None:
                v = c["product_id"]
                if not _is_ndc(v):
                    errors.append(
                        AsapError(
                            cl,
                            cs,
                            co,
                            "CDI",
                            "CDI03",
                            _clip(v),
                            "CDI03 (Product ID) must be an 11-digit NDC "
                            "without dashes when CDI02 is 01",
                        )
                    )
            compounds.append(c)
        if dsp["product_qualifier"] == MARIJUANA and status != "02":
            errors.extend(_card_holder_errors(pat_cache))
        if dsp["product_qualifier"] == "06" and not cdis and status != "02":
            errors.append(
                AsapError(
                    line,
                    segno,
                    offset,
                    "DSP",
                    "DSP07",
                    "06",
                    "A compound (DSP07 06) needs CDI segments listing its ingredients",
                )
            )
        additional = None
        if air is not None:
            additional = _convert(specs["AIR"], air[3], *air[:3], "AIR", errors)
        key = None
        if (
            dsp["prescription_number"] is not None
            and dsp["date_filled"] is not None
            and dsp["refill_number"] is not None
        ):
            key = (
                *ph_key,
                dsp["prescription_number"],
                dsp["refill_number"],
                dsp["date_filled"],
            )
        if errors:
            return RecordRejected(line, segno, pharmacy, errors, key)
        return Record(
            line, segno, pharmacy, pat_cache[0], dsp, prescriber, compounds, additional, key,
            offset,
        )  # fmt: skip

    def _zero(self, grp, pharmacy):
        line, segno, offset, dspf, *_ = grp
        v = dspf[5] if len(dspf) > 5 else ""
        d = _to_date(v) if v else _BAD
        if d is _BAD:
            msg = "DSP05 (Date Filled) of a zero report must be the report date, written CCYYMMDD"
            error = AsapError(line, segno, offset, "DSP", "DSP05", _clip(v), msg)
            return RecordRejected(line, segno, pharmacy, [error])
        outside = self.dates.report_day(d, (line, segno, offset))
        if outside:
            return RecordRejected(line, segno, pharmacy, outside)
        return ZeroReport(line, segno, pharmacy, d)


def _card_holder_errors(pat_cache: tuple) -> list[AsapError]:
    """A marijuana dispensation names the holder's registry card: PAT02 99, PAT03 the card."""
    patient, already, where, _born = pat_cache
    if any(e.field in ("PAT02", "PAT03") for e in already):
        return []  # reported already, with its own message
    card = (patient["id"] or "").strip().upper()
    if patient["id_qualifier"] != "99":
        message = "A marijuana dispensation (DSP07 MM) needs PAT02 = 99 and the card in PAT03"
        return [AsapError(*where, "PAT", "PAT02", _clip(patient["id_qualifier"] or ""), message)]
    if not CARD_NUMBER.match(card):
        message = (
            "PAT03 must be the holder's registry card number (4 to 20 letters, digits or hyphens)"
        )
        return [AsapError(*where, "PAT", "PAT03", _clip(card), message)]
    return []


def _has(f: list[str], no: int) -> bool:
    return no < len(f) and bool(f[no])


# --------------------------------------------------------------------------- entry points


def check_structure(stream: BinaryIO, chunk_size: int = CHUNK_SIZE) -> StructureReport:
    """First pass: the file's structure, counts and structural errors (no records kept)."""
    parser = _Parser(stream, "structure", chunk_size)
    for _ in parser.run():  # pragma: no cover - yields nothing without build
        pass
    return parser.report


def error_report(
    stream: BinaryIO, received_at: datetime, chunk_size: int = CHUNK_SIZE
) -> StructureReport:
    """The complete report of a file: the structure, and every error, the records' included,
    in file order (the first MAX_ERRORS of them). For a file :func:`check_structure` refused,
    so the pharmacy learns all that is wrong with it at once; ``received_at`` as in
    :func:`read_records`."""
    parser = _Parser(stream, "report", chunk_size, received_at)
    for _ in parser.run():  # pragma: no cover - yields nothing in this mode
        pass
    return parser.report


def read_records(
    stream: BinaryIO, received_at: datetime, chunk_size: int = CHUNK_SIZE
) -> Iterator[Record | RecordRejected | ZeroReport]:
    """Second pass: one item per dispensation group, in file order; ``received_at`` (when the
    file was received) bounds its dates.

    Raises :class:`FileRejected` at the end of a file with a structural error, listing them
    all; it yields no item after the first, but may have yielded items before it (some
    structural errors are only known at the end of the file).
    """
    return _Parser(stream, "records", chunk_size, received_at).run()
