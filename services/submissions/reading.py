"""An ASAP file as the intake takes it: its structure first, then its records, JSON-ready.

The parser (``asap.py``) gives typed values (dates, decimals); events carry text. Turning one
into the other here lets the reading run in a process of its own for bulk loads
(``read_in_worker``), beside the process that links patients and writes events, so a 2-core
machine uses both cores. The worker sends chunks of records as JSON (orjson: much cheaper
than pickling dates and decimals) through a pipe whose small buffer keeps both processes in
step and memory flat. Web uploads, at most 20 MB, are read in the service's own process
(``read_inline``): the same steps without the pipe.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, BinaryIO, NamedTuple

import orjson

from services.submissions.asap import (
    AsapError,
    Record,
    RecordRejected,
    ZeroReport,
    check_structure,
    error_report,
    read_records,
)
from services.submissions.asap_segments import MARIJUANA
from services.submissions.error_report import ERROR, NOTE

CHUNK = 1000  # records per message from the worker
SHARED = 100_000  # distinct patients (and prescribers) a reading remembers
BUFFERED = 8  # chunks read from the worker ahead of the intake (a few MB)
OpenFile = Callable[[], BinaryIO]


class Dispensation(NamedTuple):
    """One accepted dispensation record, every value JSON-ready; ``pharmacy`` is one dict
    per pharmacy block (shared: do not change it)."""

    line: int
    segment_number: int  # of its DSP segment in the file (TH is 1)
    byte_offset: int  # where that segment starts in the file
    status: str  # "new", "revise" or "void"
    key: str  # pharmacy, prescription number, refill number, date filled: see ``key_text``
    pharmacy: dict[str, Any]
    patient: dict[str, Any]
    dispensation: dict[str, Any]
    prescriber: dict[str, Any]


class Rejected(NamedTuple):
    """A record refused for the errors listed (error report lines)."""

    errors: list[dict[str, Any]]


ZERO = "zero report"  # the file says it has no dispensations for the period

Item = Dispensation | Rejected | str


@dataclass
class Structure:
    ok: bool
    version: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)  # error report lines
    error_count: int = 0
    file_type: str = ""  # TH07: P production, T test (the intake records nothing of a test)
    notes: list[dict[str, Any]] = field(default_factory=list)  # names read as Latin-1


def key_text(key: tuple) -> str:
    kind, pharmacy, prescription, refill, filled = key
    day = filled.isoformat() if isinstance(filled, date) else str(filled)
    return f"{kind}:{pharmacy}:{prescription}:{refill}:{day}"


def problem(error: AsapError, severity: str = ERROR) -> dict[str, Any]:
    """An error report line (``error_report.COLUMNS``)."""
    return {
        "segment_number": error.segment_number,
        "line": error.line,
        "byte_offset": error.byte_offset,
        "segment": error.segment or "",
        "field": error.field or "",
        "value": error.value or "",
        "message": error.message,
        "severity": severity,
    }


def plain(values: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready: dates as ISO text, quantities as decimal text, empty fields left out."""
    out = {}
    for name, value in values.items():
        kind = type(value)
        if kind is str:
            if value:
                out[name] = value
        elif kind is date:
            out[name] = value.isoformat()
        elif kind is Decimal:
            out[name] = str(value)
        elif value is not None:
            out[name] = value
    return out


def picked_up_by(additional: dict[str, Any]) -> dict[str, Any]:
    """Who took a dispensary's marijuana dispensation away (AIR04-AIR08), for comparing with
    the card's caregiver; a pharmacy's AIR segment is not kept."""
    wanted = ("person_id_qualifier", "person_id", "person_relationship", "person_last_name",
              "person_first_name")  # fmt: skip
    return plain({key: additional.get(key) for key in wanted})


def _structure(open_file: OpenFile, received_at: datetime) -> Structure:
    """The file's structure; when it is refused, its complete error report (a read more, so
    the pharmacy learns its records' errors with the structural ones)."""
    with open_file() as file:
        found = check_structure(file)
    if not found.ok:
        with open_file() as file:
            found = error_report(file, received_at)
    errors = [problem(e) for e in found.errors]
    notes = [problem(n, NOTE) for n in found.notes]
    return Structure(
        found.ok, found.version or "", errors, found.error_count, found.file_type or "", notes
    )


class _Shared:
    """One JSON-ready dict per distinct value: a patient's or prescriber's fields recur in
    most of a file's records, and the intake recognises a repeat by the dict itself."""

    def __init__(self, limit: int = SHARED):
        self.limit = limit
        self.made: dict[tuple, dict[str, Any]] = {}

    def __call__(self, values: dict[str, Any]) -> dict[str, Any]:
        same = tuple(values.items())
        made = self.made.get(same)
        if made is None:
            if len(self.made) >= self.limit:
                self.made.clear()  # memory stays flat; a repeat only costs its conversion
            made = self.made[same] = plain(values)
        return made


def _items(open_file: OpenFile, received_at: datetime) -> Iterator[Item]:
    pharmacy: tuple[dict | None, dict[str, Any]] = (None, {})
    patient, prescriber = _Shared(), _Shared()
    with open_file() as file:
        for item in read_records(file, received_at):
            if isinstance(item, Record):
                if item.pharmacy is not pharmacy[0]:
                    pharmacy = (item.pharmacy, plain(item.pharmacy))
                dispensation = plain(item.dispensation)
                if item.additional and dispensation.get("product_qualifier") == MARIJUANA:
                    dispensation["picked_up_by"] = picked_up_by(item.additional)
                yield Dispensation(
                    item.line,
                    item.segment_number,
                    item.byte_offset,
                    item.status,
                    key_text(item.key),
                    pharmacy[1],
                    patient(item.patient),
                    dispensation,
                    prescriber(item.prescriber or {}),
                )
            elif isinstance(item, RecordRejected):
                yield Rejected([problem(e) for e in item.errors])
            elif isinstance(item, ZeroReport):
                yield ZERO


class Reading:
    """A file being read: ``structure`` first; ``items`` only when it is sound."""

    structure: Structure

    def items(self) -> Iterator[Item]:
        raise NotImplementedError


class _Inline(Reading):
    def __init__(self, open_file: OpenFile, received_at: datetime):
        self.open_file, self.received_at = open_file, received_at
        self.structure = _structure(open_file, received_at)

    def items(self) -> Iterator[Item]:
        return _items(self.open_file, self.received_at)


@contextmanager
def read_inline(open_file: OpenFile, received_at: datetime) -> Iterator[Reading]:
    """Read here; ``received_at`` (when the file came in) bounds the dates it may hold."""
    yield _Inline(open_file, received_at)


# -- the worker process -----------------------------------------------------------------------


def _worker(open_file: OpenFile, received_at: datetime, pipe) -> None:
    """Runs in the child: the structure, then the records in chunks; "done" or the error."""
    try:
        structure = _structure(open_file, received_at)
        pipe.send_bytes(orjson.dumps(structure.__dict__))
        if structure.ok:
            chunk: list = []
            encode = _Encoder()
            for item in _items(open_file, received_at):
                encode(item, chunk)
                if len(chunk) >= CHUNK:
                    pipe.send_bytes(orjson.dumps(chunk))
                    chunk = []
            if chunk:
                pipe.send_bytes(orjson.dumps(chunk))
        pipe.send_bytes(b'"done"')
    except BaseException:  # the parent re-raises it with the child's traceback
        pipe.send_bytes(orjson.dumps({"failed": traceback.format_exc()}))
    finally:
        pipe.close()


class _Encoder:
    """Puts a record in the chunk with its pharmacy, patient and prescriber as numbers, each
    shared dict sent once (``{"n": number, "is": dict}``) before the first record using it:
    decoding objects is most of the parent's cost, and most of them repeat."""

    def __init__(self) -> None:
        self.numbers: dict[int, tuple[int, dict]] = {}  # id(dict) -> (number, dict)

    def __call__(self, item: Item, chunk: list) -> None:
        if isinstance(item, Dispensation):
            # where: the line, segment number and byte offset
            *where, status, key, pharmacy, patient, dispensation, prescriber = item
            if len(self.numbers) + 3 > 2 * SHARED:  # before numbering: a record's three
                self.numbers.clear()  # numbers must all belong to the same count
                chunk.append({"forget": True})
            numbers = [self._number(d, chunk) for d in (pharmacy, patient, prescriber)]
            chunk.append([*where, status, key, *numbers, dispensation])
        elif isinstance(item, Rejected):
            chunk.append({"rejected": item.errors})
        else:
            chunk.append(item)

    def _number(self, shared: dict, chunk: list) -> int:
        found = self.numbers.get(id(shared))
        if found is not None and found[1] is shared:
            return found[0]
        number = len(self.numbers)
        self.numbers[id(shared)] = (number, shared)
        chunk.append({"n": number, "is": shared})
        return number


class _InWorker(Reading):
    def __init__(self, open_file: OpenFile, received_at: datetime):
        context = multiprocessing.get_context("fork")
        self.pipe, child = context.Pipe(duplex=False)
        arguments = (open_file, received_at, child)
        self.process = context.Process(target=_worker, args=arguments, daemon=True)
        self.process.start()
        child.close()
        self.structure = Structure(**self._decode(self._message()))
        # A thread empties the pipe into a small queue, so the worker keeps reading while
        # this process commits (a commit waits for the disk, with the GIL released).
        self.chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=BUFFERED)
        self.stopping = threading.Event()
        self.finished = False  # every record was read
        self.drain = threading.Thread(target=self._drain, daemon=True)
        self.drain.start()

    def _message(self) -> bytes | None:
        try:
            return self.pipe.recv_bytes()
        except (EOFError, OSError):
            return None

    def _drain(self) -> None:
        while not self.stopping.is_set():
            message = self._message()
            while not self.stopping.is_set():
                try:
                    self.chunks.put(message, timeout=0.5)
                    break
                except queue.Full:
                    continue
            if message is None or message == b'"done"' or message.startswith(b'{"failed"'):
                return

    def _decode(self, message: bytes | None) -> Any:
        if message is None:
            raise RuntimeError("the ASAP reading process ended unexpectedly")
        decoded = orjson.loads(message)
        if isinstance(decoded, dict) and "failed" in decoded:
            raise RuntimeError(f"the ASAP reading process failed:\n{decoded['failed']}")
        return decoded

    def _receive(self) -> Any:
        return self._decode(self.chunks.get())

    def items(self) -> Iterator[Item]:
        shared: dict[int, dict[str, Any]] = {}
        while (chunk := self._receive()) != "done":
            for raw in chunk:
                if type(raw) is list:
                    *where, status, key, pharmacy, patient, prescriber, dispensation = raw
                    yield Dispensation(
                        *where, status, key, shared[pharmacy], shared[patient], dispensation,
                        shared[prescriber],
                    )  # fmt: skip
                elif type(raw) is dict:
                    if "n" in raw:
                        shared[raw["n"]] = raw["is"]
                    elif "forget" in raw:
                        shared.clear()
                    else:
                        yield Rejected(raw["rejected"])
                else:
                    yield raw
        self.finished = True

    def close(self) -> None:
        """End the worker (at once if the intake stopped before the end: it may be blocked
        on a full pipe, or stopped), then the drain thread, then the pipe: closing the pipe
        under the drain's read would fail in that thread."""
        self.stopping.set()
        if not self.finished:
            self.process.terminate()
        self.process.join(timeout=5)
        if self.process.is_alive():  # stopped (SIGSTOP), or deaf to SIGTERM
            self.process.kill()
            self.process.join()
        self.drain.join(timeout=5)  # the worker's end is closed: its read ends
        self.pipe.close()


@contextmanager
def read_in_worker(open_file: OpenFile, received_at: datetime) -> Iterator[Reading]:
    """Read in a child process (fork: the file opener need not be picklable). Only for
    processes without green threads (``pmp ingest``), never inside a nameko service."""
    reading = _InWorker(open_file, received_at)
    try:
        yield reading
    finally:
        reading.close()
