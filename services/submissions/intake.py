"""From an ASAP file to events: check the structure, then record the dispensations in batches.

One pass checks the structure (a structural error rejects the file before anything is
recorded); a second pass reads the records one at a time, so memory stays flat whatever the
file's size. Each accepted record gets its drug from the reference and its person from the
patient index; rejected records go to the error report and nothing of them is recorded.
New dispensations are appended in batches of up to 1,000; revisions and voids find the
dispensation they change by its key (pharmacy, prescription number, refill, date filled).

A medical marijuana dispensary's record (DSP07 ``MM``) takes the same path with its own
events (``MarijuanaDispensationsRecorded``, ``...Revised``, ``...Voided``): no drug reference,
no patient index person, the registry card number from PAT03 instead. Its keys have their own
prefix, so a revision or void finds only a dispensation of its own kind.

A test file (TH07 ``T``: a pharmacy trying its software or its connection) gets every check
a production file gets, against what is recorded, and its counts and error report as what
would have happened; it records nothing: no dispensation event, no key, no patient in the
index, so the same records sent later in production are new (``_Trial``).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import partial
from itertools import islice
from typing import Any, Protocol

from services.submissions.asap_segments import MARIJUANA
from services.submissions.drugs import Drug, DrugReference
from services.submissions.error_report import ERROR
from services.submissions.patients import Link, Patient, PatientIndex
from services.submissions.reading import (
    ZERO,
    Dispensation,
    Item,
    OpenFile,
    Reading,
    Rejected,
    read_inline,
)
from services.submissions.schemas import MAX_BATCH

Change = tuple[str, dict[str, Any]]
KEPT_ERRORS = 100  # a refused file's first errors, in its rejection event (all go to the report)
REMEMBERED = 200_000  # patients a run remembers (bounds its memory)
GROUP = 5  # batches of MAX_BATCH records written in one append
YIELD_EVERY = 1000  # records between yields to other green threads (a file is CPU work)
COUNTS = ("records", "recorded", "revised", "voided", "rejected", "unknown_ndc", "marijuana")
TEST_FILE = "T"  # TH07 File Type: P production, T test
RUNNING = ("running", "testing")  # the states of an intake that has not ended
_UNSEEN = object()


def no_counts() -> dict[str, int]:
    return dict.fromkeys(COUNTS, 0)


@dataclass
class Progress:
    """How far a file's intake got, stored with every chunk: a resend of the file continues
    from here, so nothing stored is taken twice. The file is the same (same digest) and read
    against the same ``received_at``, so its first ``done`` items are the ones taken."""

    submission_id: str
    sha256: str
    received_at: datetime
    sender: str | None = None  # the account that sent the file (None: from before it was kept)
    #: running, or testing (a test file), until its outcome: accepted, tested, rejected or
    #: interrupted
    state: str = "running"
    done: int = 0  # items of the file taken (its records, and a zero report's mark)
    counts: dict[str, int] = field(default_factory=no_counts)
    zero_report: bool = False
    errors: int = 0  # error report lines stored

    @property
    def test_file(self) -> bool:
        """A test file's intake (TH07 T), running or ended."""
        return self.state in ("testing", "tested")

    def snapshot(self, **changed: Any) -> Progress:
        return replace(self, counts=dict(self.counts), **changed)


@dataclass
class Chunk:
    """What one transaction stores: the events, the keys and patients they name, the error
    report lines of the records taken since the last chunk, and the progress after them. A
    crash loses a whole chunk or nothing, never events without their keys."""

    changes: list[Change]
    progress: Progress
    keys: list[tuple[str, str]] = field(default_factory=list)
    patients: list[tuple[int, Patient, uuid.UUID]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)  # the file's, stored once read


class IntakeMemory(Protocol):
    """Where the intake keeps what it takes: which dispensation a (pharmacy, prescription,
    refill, date filled) key names, and each chunk in one transaction."""

    def find(self, key: str) -> str | None: ...

    def find_many(self, keys: Sequence[str]) -> dict[str, str]: ...

    def store(self, stream: str, chunk: Chunk) -> None: ...


@dataclass
class Outcome:
    submission_id: str
    status: str  # "accepted", "tested" (a test file: nothing recorded) or "rejected"
    counts: dict[str, int]  # the whole file's, earlier runs of a resumed submission included
    error_count: int  # lines in the error report
    test_file: bool = False


def test_summary(counts: dict[str, int]) -> str:
    """A test file's outcome in one line, as the page, the API and ``pmp ingest`` give it."""
    accepted = counts["recorded"] + counts["revised"] + counts["voided"]
    records = "record" if accepted == 1 else "records"
    return (
        f"test file: {accepted:,} {records} would have been accepted, "
        f"{counts['rejected']:,} refused; nothing was recorded"
    )


def submission_stream(submission_id: str) -> str:
    return f"submission-{submission_id}"


def uuid4_texts() -> Iterator[str]:
    """Random (version 4) UUIDs as text, from one read of the system's randomness per 1,024:
    ``str(uuid.uuid4())`` costs more than the rest of a record's bookkeeping."""
    while True:
        block = os.urandom(16 * 1024)
        for at in range(0, len(block), 16):
            n = int.from_bytes(block[at : at + 16])
            n = (n & ~(0xF << 76) | 4 << 76) & ~(0xC << 60) | 0x8 << 60  # version 4, RFC 4122
            h = f"{n:032x}"
            yield f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Intake:
    def __init__(
        self,
        memory: IntakeMemory,
        reference: DrugReference,
        index: PatientIndex,
        new_id: Callable[[], uuid.UUID | str] | None = None,
        progress: Callable[[int], None] | None = None,
    ):
        self.memory = memory
        self.reference = reference
        self.index = index
        self.new_id = new_id or partial(next, uuid4_texts())
        self.progress = progress

    def ingest(
        self,
        open_file: OpenFile,
        start: Progress,
        first: Change,
        read: Callable[[OpenFile, datetime], AbstractContextManager[Reading]] = read_inline,
    ) -> Outcome:
        """Record the file ``open_file`` opens (it is read twice) from ``start``: a new
        submission, or one that stopped part-way. ``first`` is stored before anything else
        (``SubmissionReceived``, or ``SubmissionResumed``); ``read`` reads the file here or
        in a worker process. No date in the file may be after the day after
        ``start.received_at``."""
        stream = submission_stream(start.submission_id)
        self.memory.store(stream, Chunk([first], start.snapshot()))
        with read(open_file, start.received_at) as reading:
            structure = reading.structure
            test = structure.file_type == TEST_FILE
            if not structure.ok:
                rejected = {
                    "reason": "The file's structure is not valid ASAP; nothing was recorded.",
                    "errors": structure.errors[:KEPT_ERRORS],
                    "error_count": structure.error_count,
                    "test_file": test,
                }
                end = start.snapshot(state="rejected", errors=len(structure.errors))
                chunk = Chunk(
                    [("SubmissionRejected", rejected)],
                    end,
                    errors=structure.errors,
                    notes=structure.notes,
                )
                self.memory.store(stream, chunk)
                return Outcome(start.submission_id, "rejected", end.counts, end.errors, test)
            if structure.notes:  # before any record: the report has them however it ends
                self.memory.store(stream, Chunk([], start.snapshot(), notes=structure.notes))
            run = (_Trial if test else _Run)(self, stream, start.snapshot())
            run.begin()
            items = reading.items()
            for skipped, item in enumerate(islice(items, start.done), 1):  # taken before
                run.skip(item)
                if skipped % YIELD_EVERY == 0:
                    time.sleep(0)
            for item in items:
                run.take(item)
        end = run.finish(structure.version)
        return Outcome(start.submission_id, run.ended, end.counts, end.errors, test)


class _Run:
    """One file's records on their way to events, a chunk (one transaction) at a time."""

    running, ended, outcome = "running", "accepted", "SubmissionAccepted"  # states, last event

    def __init__(self, intake: Intake, stream: str, progress: Progress):
        self.intake, self.stream, self.progress = intake, stream, progress
        self.submission_id = progress.submission_id
        self.pending: list[tuple[str, Dispensation, str]] = []  # key, record, dispensation id
        self.new_patients: list[tuple[int, Patient, uuid.UUID]] = []  # record number first
        self.links: list[Change] = []  # PatientLinked events to store with the next chunk
        self.unwritten: list[Change] = []  # batches and changes made, not yet stored
        self.unwritten_keys: list[tuple[str, str]] = []  # their keys and dispensation ids
        self.seen: dict[str, str] = {}  # keys recorded by this file, not yet stored
        self.errors: list[dict[str, Any]] = []  # error report lines not yet stored
        self.counts = progress.counts
        # what the file repeats, found once: patients' persons, drugs
        self.people: dict[int, tuple[dict, tuple[str, str, int]]] = {}  # id(patient) -> ...
        self.drugs: dict[str, dict[str, Any] | None] = {}

    def begin(self) -> None:
        """Before the file's first item (a test run marks its submission)."""

    def skip(self, item: Item) -> None:
        """An item an earlier run of this submission took (its effects are stored)."""

    def take(self, item: Item) -> None:
        """Take the file's next item. Chunks are stored only between items, so the progress
        stored with one counts whole items."""
        if item == ZERO:
            self.progress.zero_report = True
        elif type(item) is Rejected:
            self._count()
            self._reject(item.errors)
        elif item.status == "new":
            self._count()
            self._new(item)
        else:
            self._flush(write=True)  # a change may refer to a pending record: it comes first
            self._count()
            self._change(item)
            self.progress.done += 1
            self._write()
            return
        self.progress.done += 1
        if len(self.pending) >= MAX_BATCH:
            self._flush()

    def _count(self) -> None:
        self.counts["records"] += 1
        if self.counts["records"] % YIELD_EVERY == 0:
            time.sleep(0)  # in the service (eventlet), let pings and other requests in
            if self.intake.progress:
                self.intake.progress(self.counts["records"])

    def _reject(self, errors: Iterable[dict[str, Any]]) -> None:
        self.counts["rejected"] += 1
        self.errors.extend(errors)

    def _known(self, key: str) -> str | None:
        return self.seen.get(key) or self.intake.memory.find(key)

    def _new(self, record: Dispensation) -> None:
        key = _key(record)
        if key in self.seen:  # twice in this file (earlier files: checked per batch)
            self._reject([_record_problem(record, "DSP02", "already-reported")])
            return
        dispensation_id = str(self.intake.new_id())
        self.seen[key] = dispensation_id
        self.pending.append((key, record, dispensation_id))

    def _change(self, record: Dispensation) -> None:
        key = _key(record)
        dispensation_id = self._known(key)
        if dispensation_id is None:
            self._reject([_record_problem(record, "DSP01", "nothing-to-change")])
            return
        marijuana = _is_marijuana(record)
        self.counts["marijuana"] += marijuana
        kind = "MarijuanaDispensation" if marijuana else "Dispensation"
        if record.status == "void":
            data = {"dispensation_id": dispensation_id, "submission_id": self.submission_id}
            self.unwritten.append((f"{kind}Voided", data))
            self.counts["voided"] += 1
            return
        data = {
            "dispensation_id": dispensation_id,
            "submission_id": self.submission_id,
            "record": self._any_entry(record, dispensation_id),
        }
        self.unwritten.append((f"{kind}Revised", data))
        self.counts["revised"] += 1

    def _any_entry(self, record: Dispensation, dispensation_id: str) -> dict[str, Any]:
        if _is_marijuana(record):
            return _marijuana_entry(record, dispensation_id)
        return self._entry(record, dispensation_id)

    def _entry(self, record: Dispensation, dispensation_id: str) -> dict[str, Any]:
        person_id, kind, number = self._person(record.patient)
        drug = self._drug(record)
        return {
            "dispensation_id": dispensation_id,
            "person_id": person_id,
            "link": kind,
            "patient_record": number,
            "line": record.line,
            "pharmacy": record.pharmacy,
            "patient": record.patient,
            "dispensation": record.dispensation,
            "prescriber": record.prescriber,
            "drug": drug,
        }

    def _drug(self, record: Dispensation) -> dict[str, Any] | None:
        """The record's drug from the reference (None, and counted, if its NDC is not there)."""
        ndc = record.dispensation.get("ndc") or ""
        drug = self.drugs.get(ndc, _UNSEEN)
        if drug is _UNSEEN:
            drug = self.drugs[ndc] = _drug(self.intake.reference.get(ndc))
        if drug is None:
            self.counts["unknown_ndc"] += 1
        return drug

    def _person(self, patient: dict[str, Any]) -> tuple[str, str, int]:
        """The person, how they were linked and the index record. A patient sent again in
        the same file, field for field (the same dict: see ``reading._Shared``), is the person
        found the first time (most patients have several dispensations in a file)."""
        found = self.people.get(id(patient))  # the reading shares one dict per patient
        if found is not None and found[0] is patient:
            return found[1]
        person = _patient(patient)
        index = self.intake.index
        link = index.link(person)
        number = link.record
        if number is None:  # an exact twin adds nothing to the index
            number = index.add(person, link.person_id)
            self.new_patients.append((number, person, link.person_id))
            if link.uncertain:
                self.links.append(("PatientLinked", _linked(link, number, self.submission_id)))
        if len(self.people) >= REMEMBERED:
            self.people.clear()
        self.people[id(patient)] = (patient, (str(link.person_id), "deterministic", number))
        return str(link.person_id), link.kind, number

    def _flush(self, write: bool = False) -> None:
        """Make the pending records a batch, less what earlier files already reported (one
        query for the whole batch, not one per record); store the batches when there are
        ``GROUP`` of them, or now if ``write`` (one commit for several: each costs a sync)."""
        if self.pending:
            reported = self.intake.memory.find_many([key for key, _, _ in self.pending])
            batch, marijuana = [], []
            for key, record, dispensation_id in self.pending:
                if key in reported:
                    self.seen.pop(key, None)
                    self._reject([_record_problem(record, "DSP02", "already-reported")])
                    continue
                if _is_marijuana(record):
                    marijuana.append(_marijuana_entry(record, dispensation_id))
                else:
                    batch.append(self._entry(record, dispensation_id))
                self.unwritten_keys.append((key, dispensation_id))
            self.pending = []
            for kind, records in (
                ("DispensationsRecorded", batch),
                ("MarijuanaDispensationsRecorded", marijuana),
            ):
                if records:
                    data = {"submission_id": self.submission_id, "records": records}
                    self.unwritten.append((kind, data))
                    self.counts["recorded"] += len(records)
            self.counts["marijuana"] += len(marijuana)
        if write or len(self.unwritten) >= GROUP:
            self._write()

    def _write(self, last: Change | None = None) -> None:
        """Store what the items taken so far made, with the progress after them, as one
        chunk; ``last``: the submission's outcome, which ends it."""
        changes = self.unwritten + self.links + ([last] if last else [])
        if not (changes or self.unwritten_keys or self.new_patients or self.errors):
            return
        self.progress.errors += len(self.errors)
        progress = self.progress.snapshot(state=self.ended if last else self.running)
        chunk = Chunk(changes, progress, self.unwritten_keys, self.new_patients, self.errors)
        self.intake.memory.store(self.stream, chunk)
        for key, _ in self.unwritten_keys:
            self.seen.pop(key, None)
        self.unwritten, self.unwritten_keys, self.new_patients = [], [], []
        self.links, self.errors = [], []

    def finish(self, asap_version: str) -> Progress:
        """Store the rest with the outcome (``SubmissionAccepted``); the progress at the end."""
        self._flush()
        counts = {"version": asap_version, **self.counts, "zero_report": self.progress.zero_report}
        self._write(last=(self.outcome, counts))
        return self.progress


class _Trial(_Run):
    """A test file's run: what a production run would record is counted, and nothing is kept
    but the error report and the progress (so a test stopped part-way is continued, as any
    file is). Keys are checked against the store and the file, as in production; the file's
    own keys are held in memory to the end, since none is stored (about 100 bytes each)."""

    running, ended, outcome = "testing", "tested", "SubmissionTested"
    SEEN = "tested"  # ``seen``'s value for a key of this file: no dispensation has it

    def __init__(self, intake: Intake, stream: str, progress: Progress):
        super().__init__(intake, stream, progress)
        self.stored_at = progress.done  # the items taken when progress was last stored

    def begin(self) -> None:
        """Mark the submission a test file being checked: an interruption then says so."""
        self.intake.memory.store(self.stream, Chunk([], self.progress.snapshot(state="testing")))

    def skip(self, item: Item) -> None:
        """Remember the file's keys taken before: a later record may repeat or change one."""
        if item != ZERO and type(item) is not Rejected and item.status == "new":
            self.seen[_key(item)] = self.SEEN

    def _change(self, record: Dispensation) -> None:
        if self._known(_key(record)) is None:
            self._reject([_record_problem(record, "DSP01", "nothing-to-change")])
            return
        marijuana = _is_marijuana(record)
        self.counts["marijuana"] += marijuana
        if record.status == "void":
            self.counts["voided"] += 1
            return
        if not marijuana:
            self._drug(record)
        self.counts["revised"] += 1

    def _flush(self, write: bool = False) -> None:
        if self.pending:
            reported = self.intake.memory.find_many([key for key, _, _ in self.pending])
            for key, record, _ in self.pending:
                if key in reported:
                    self._reject([_record_problem(record, "DSP02", "already-reported")])
                    continue
                if _is_marijuana(record):
                    self.counts["marijuana"] += 1
                else:
                    self._drug(record)
                self.counts["recorded"] += 1
            self.pending = []
        self._write()

    def _write(self, last: Change | None = None) -> None:
        """Store the error report's new lines and the progress every ``GROUP`` batches'
        worth of items, and with the outcome: there is nothing else to store."""
        if last is None and self.progress.done - self.stored_at < GROUP * MAX_BATCH:
            return
        self.stored_at = self.progress.done
        self.progress.errors += len(self.errors)
        progress = self.progress.snapshot(state=self.ended if last else self.running)
        self.intake.memory.store(
            self.stream, Chunk([last] if last else [], progress, errors=self.errors)
        )
        self.errors = []


MESSAGES = {
    "already-reported": (
        "This prescription, refill and fill date was reported before; send it with DSP01 = 01 "
        "to revise it"
    ),
    "nothing-to-change": (
        "No earlier record has this pharmacy, prescription number, refill number and date "
        "filled; report it as new (DSP01 = 00)"
    ),
}


def _is_marijuana(record: Dispensation) -> bool:
    return record.dispensation.get("product_qualifier") == MARIJUANA


def _key(record: Dispensation) -> str:
    """The record's key; a dispensary's marijuana dispensations have keys of their own."""
    return f"mm:{record.key}" if _is_marijuana(record) else record.key


def _marijuana_entry(record: Dispensation, dispensation_id: str) -> dict[str, Any]:
    """A ``MarijuanaDispensationsRecorded`` record: the card number (PAT03, as the registry
    writes it) links it to the card holder in the query service."""
    return {
        "dispensation_id": dispensation_id,
        "card_number": str(record.patient.get("id", "")).strip().upper(),
        "line": record.line,
        "dispensary": record.pharmacy,
        "patient": record.patient,
        "dispensation": record.dispensation,
        "certifier": record.prescriber,
    }


def _record_problem(record: Dispensation, field_id: str, what: str) -> dict[str, Any]:
    value = record.dispensation.get("prescription_number", "")
    return {
        "segment_number": record.segment_number,
        "line": record.line,
        "byte_offset": record.byte_offset,
        "segment": "DSP",
        "field": field_id,
        "value": str(value)[:40],
        "message": MESSAGES[what],
        "severity": ERROR,
    }


def _linked(link: Link, record: int, submission_id: str) -> dict[str, Any]:
    """``PatientLinked``: a link for the administrators' review queue (no patient data)."""
    return {
        "person_id": str(link.person_id),
        "patient_record": record,
        "kind": link.kind,
        "score": link.score,
        "possible": [{"person_id": str(p), "score": s} for p, s in link.possible],
        "reasons": list(link.reasons),
        "submission_id": submission_id,
    }


def _patient(p: dict[str, Any]) -> Patient:
    return Patient(
        first_name=p.get("first_name") or "",
        last_name=p.get("last_name") or "",
        dob=date.fromisoformat(p["birth_date"]) if p.get("birth_date") else None,
        gender=p.get("gender") or "",
        middle_name=p.get("middle_name") or "",
        address=p.get("address_1") or "",
        city=p.get("city") or "",
        state=p.get("state") or "",
        zip=p.get("zip") or "",
        suffix=p.get("name_suffix") or "",
    )


def _drug(drug: Drug | None) -> dict[str, Any] | None:
    if drug is None:
        return None
    return {
        "ndc": drug.ndc,
        "name": drug.name,
        "generic_name": drug.generic_name,
        "drug": drug.drug,
        "drug_class": drug.drug_class,
        "schedule": drug.schedule,
        "strength_per_unit": str(drug.strength_per_unit) if drug.strength_per_unit else None,
        "unit": drug.unit,
        "mme_factor": str(drug.mme_factor) if drug.mme_factor is not None else None,
        "long_acting": drug.long_acting,
        "form": drug.form,
    }
