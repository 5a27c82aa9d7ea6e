"""nameko entrypoints of the submissions service: pharmacies' ASAP files in, events out.

A data submitter uploads a file through the gateway (``submit_file``); the desk records it
(``desk.py``) and the submitter reads the outcome and its error report. Bulk loads run the
same desk from ``pmp ingest``. A request redelivered after this service died mid-file
continues the file's submission; a timer gives a submission whose intake died its outcome.
Every RPC checks the caller's permission here as well as in the gateway; a submission's
report is shown to whoever sent it and to administrators.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

import sqlalchemy as sa
from nameko.extensions import DependencyProvider
from nameko.timer import timer

from pmp.logs import get_logger
from pmp.rpc import rpc
from pmp.service import EventSourcedService, Kernel, ServiceKernel
from services.identity.roles import Permission, allows, require
from services.submissions import matches, memory
from services.submissions.desk import Desk, discard, spooled, sweep
from services.submissions.intake import submission_stream, test_summary
from services.submissions.schemas import SUBMISSION_OUTCOME_EVENTS, submissions_events

log = get_logger(__name__)

MAX_WEB_BYTES = 20 * 1024 * 1024  # larger files go through `pmp ingest`
SWEEP_SECONDS = 15  # how soon a submission whose intake died gets its outcome


class NotFound(LookupError):
    """No such submission (or not one the caller may see)."""


class SubmissionRefused(ValueError):
    """The upload itself is unusable (empty, damaged, too large); the message says why."""


class DeskProvider(DependencyProvider):
    """One desk per process: the drug reference and the patient index are loaded once."""

    def setup(self) -> None:
        self.desk: Desk | None = None

    def get_dependency(self, worker_ctx) -> DeskProvider:
        return self

    def for_kernel(self, kernel: Kernel) -> Desk:
        if self.desk is None:
            self.desk = Desk(kernel.db)
        return self.desk


class SubmissionsService(EventSourcedService):
    name = "submissions"
    kernel = ServiceKernel(
        submissions_events(), projections=(matches.PatientMatches,), tables=(memory.metadata,)
    )
    desks = DeskProvider()

    def _require(self, permission: Permission) -> None:
        require(self.kernel.actor_role, permission)

    @rpc
    def submit_file(self, filename: str, content: str) -> dict[str, Any]:
        """Record an uploaded ASAP file; the outcome, with the number of errors reported."""
        self._require(Permission.SUBMISSION_UPLOAD)
        try:
            raw = base64.b64decode(content or "", validate=True)
        except (binascii.Error, ValueError):
            raise SubmissionRefused("The upload was damaged on the way; send it again.") from None
        if not raw:
            raise SubmissionRefused("The file is empty.")
        if len(raw) > MAX_WEB_BYTES:
            raise SubmissionRefused(
                "The file is larger than 20 MB; ask the program to load it in bulk."
            )
        path = spooled(raw)
        try:
            outcome = self.desks.for_kernel(self.kernel).ingest(
                path, filename or "submission", "web", self.kernel, self.kernel.clock()
            )
        finally:
            discard(path)
        log.info(
            "submission taken", submission_id=outcome["submission_id"], status=outcome["status"]
        )
        return outcome

    @timer(interval=SWEEP_SECONDS, eager=True)
    def finish_dead_intakes(self) -> None:
        """At start and then often: a submission whose intake died (this service killed
        mid-file, ``pmp ingest`` killed, a failed database) gets its outcome, interrupted."""
        try:
            swept = sweep(self.kernel.db, self.kernel)
        except sa.exc.DBAPIError as exc:
            log.warning("cannot look for interrupted submissions", error=type(exc).__name__)
            return
        if swept:
            log.info("interrupted submissions given their outcome", count=swept)

    @rpc
    def submission_of_file(self, sha256: str) -> dict[str, Any]:
        """The caller's submission of the file with this SHA-256 (the gateway asks when an
        upload's answer did not come), as ``submission`` shows it."""
        tables = memory.IntakeTables(self.kernel.db)
        found = tables.received(str(sha256).lower(), self.kernel.actor_id)
        if found is None:
            raise NotFound("There is no such submission.")
        return self.submission(found[0])

    @rpc
    def submission(self, submission_id: str) -> dict[str, Any]:
        """What became of a submission: received (being recorded), interrupted (stopped
        part-way: what it stored, and to send the file again), rejected, accepted or tested
        (a test file: nothing recorded, ``summary`` says what would have been), with its
        counts, and whether it is a test file."""
        events = self._outcome_events_of(submission_id)
        summary: dict[str, Any] = {
            "submission_id": submission_id,
            "status": "received",
            "test_file": False,
        }
        for event in events:
            if event.type == "SubmissionReceived":
                summary.update(
                    filename=event.data["filename"],
                    size=event.data["size"],
                    received_at=event.metadata.occurred_at.isoformat(),
                )
            elif event.type == "SubmissionRejected":
                summary.update(
                    status="rejected",
                    reason=event.data["reason"],
                    test_file=event.data["test_file"],
                )
            elif event.type == "SubmissionAccepted":
                summary.update(status="accepted", counts=dict(event.data))
            elif event.type == "SubmissionTested":
                counts = dict(event.data)
                summary.update(
                    status="tested", counts=counts, test_file=True, summary=test_summary(counts)
                )
            elif event.type == "SubmissionInterrupted":
                counts = {k: v for k, v in event.data.items() if k not in ("reason", "test_file")}
                summary.update(
                    status="interrupted",
                    reason=event.data["reason"],
                    counts=counts,
                    test_file=event.data["test_file"],
                )
            elif event.type == "SubmissionResumed":
                summary.update(status="received")
        if summary["status"] == "received":  # being recorded: how far it got
            progress = memory.IntakeTables(self.kernel.db).progress(submission_id)
            if progress is not None:
                summary["counts"] = dict(progress.counts)
                summary["test_file"] = progress.state == "testing"
        return summary

    @rpc
    def error_report(self, submission_id: str) -> list[dict[str, Any]]:
        """Every error of the submission, in the file's order (``error_report.COLUMNS``)."""
        self._outcome_events_of(submission_id)
        return memory.IntakeTables(self.kernel.db).errors(submission_id)

    @rpc
    def patient_matches(self, decided: bool = False, page: int = 1) -> dict[str, Any]:
        """The review queue of uncertain links: waiting ones oldest first, or decided ones."""
        self._require(Permission.PATIENT_INDEX_REVIEW)
        with self.kernel.db.read() as conn:
            return matches.waiting(conn, bool(decided), int(page))

    @rpc
    def patient_match(self, patient_record: int) -> dict[str, Any]:
        """One uncertain link with the patient records on both sides."""
        self._require(Permission.PATIENT_INDEX_REVIEW)
        with self.kernel.db.read() as conn:
            found = matches.find(conn, int(patient_record))
        if found is None:
            raise NotFound("There is no such patient record under review.")
        return found

    @rpc
    def decide_patient_match(
        self, patient_record: int, same: bool, person_id: str | None = None, note: str = ""
    ) -> dict[str, Any]:
        """An administrator's decision: the record is (``same``) or is not the candidate.
        A second decision on one record is refused (``ConcurrencyError``)."""
        self._require(Permission.PATIENT_INDEX_REVIEW)
        match = self.patient_match(patient_record)
        kind, data = matches.decide(match, bool(same), person_id, note or "")
        self.kernel.append(matches.decision_stream(match["patient_record"]), 0, [(kind, data)])
        log.info("patient link decided", patient_record=match["patient_record"], decision=kind)
        return {"patient_record": match["patient_record"], "decision": kind, **data}

    def _outcome_events_of(self, submission_id: str) -> list:
        """The submission's ``SUBMISSION_OUTCOME_EVENTS``, if the caller sent it or is staff
        (administrators and the help desk read any report, to help a pharmacy)."""
        staff = allows(self.kernel.actor_role, Permission.USER_VIEW)
        if not staff:
            self._require(Permission.SUBMISSION_UPLOAD)
        try:
            uuid.UUID(submission_id)
        except ValueError:
            raise NotFound("There is no such submission.") from None
        stream = submission_stream(submission_id)
        events = self.kernel.store.read_stream(stream, types=tuple(SUBMISSION_OUTCOME_EVENTS))
        if not events:
            raise NotFound("There is no such submission.")
        if not staff and events[0].metadata.actor_id != self.kernel.actor_id:
            raise NotFound("There is no such submission.")
        return events
