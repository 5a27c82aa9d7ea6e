"""The submissions JSON API: a pharmacy's data submitter sends an ASAP file and reads what
became of it, with the error report as JSON or CSV. Bearer tokens only; the submissions
service checks the caller again and shows a submission only to whoever sent it and to staff.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from nameko.exceptions import RemoteError, RpcTimeout, UnknownService
from werkzeug.wrappers import Request, Response

from gateway.http import http
from gateway.problems import Problem
from gateway.responses import csv_download, json_response
from gateway.schemas import SubmissionErrorsSchema, SubmissionSchema
from gateway.uploads import DataFile
from services.identity.roles import Permission
from services.submissions.error_report import report_csv

UPLOAD_TIMEOUT = 120.0  # seconds: a 20 MB file holds about 100,000 records
_SUBMISSION = """
            - in: path
              name: submission_id
              required: true
              schema:
                type: string
                format: uuid"""


ASAP_FILE = DataFile(
    send="Send the ASAP file in the form field `file`.",
    choose="Choose the ASAP file to send.",
    larger="Files over 20 MB are loaded in bulk by the program: contact the help desk.",
)


class SubmissionsApi:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    def _submissions(self, method: str, timeout: float | None = None, **kwargs: Any) -> Any:
        return self.services.call(
            "submissions", method, timeout or self.settings.rpc_timeout, **kwargs
        )

    def _send_submission(self, request: Request) -> dict[str, Any]:
        """The submission the file made. When no answer came (the service died, or took
        longer than the deadline), the submission that holds the file, if the service can
        say; else ``Unfinished``: the truth is not known, and a resend is safe either way."""
        filename, content = ASAP_FILE.read(request)
        try:
            return self._submissions(
                "submit_file",
                UPLOAD_TIMEOUT,
                filename=filename,
                content=base64.b64encode(content).decode(),
            )
        except (RpcTimeout, UnknownService, TimeoutError) as exc:
            try:
                found = self._submissions("submission_of_file", sha256=_sha256(content))
            except (RpcTimeout, UnknownService, TimeoutError, RemoteError):
                raise Unfinished(None) from exc
            if found["status"] in {"received", "interrupted"}:
                raise Unfinished(found) from exc
            return found

    @staticmethod
    def _unfinished_problem(found: dict[str, Any] | None) -> Problem:
        """503 with what is stored of the file and what sending it again does."""
        extensions: dict[str, Any] = {}
        if found is None:
            detail = (
                "The file's answer did not come, and we could not find out how far it got. "
                "Send the same file again: whatever of it was recorded is not recorded twice."
            )
        elif found.get("test_file"):
            detail = (
                "The test file was not checked to its end; nothing of it was recorded. Send "
                "the same file again for its whole report: it continues where it stopped."
            )
            extensions = {"submission_id": found["submission_id"]}
        else:
            counts = found.get("counts") or {}
            detail = (
                f"The file did not finish: {counts.get('recorded', 0):,} of its records are "
                "recorded so far. Send the same file again to finish it: it continues where "
                "it stopped and nothing is recorded twice."
            )
            extensions = {"submission_id": found["submission_id"], "counts": counts}
        return Problem(
            503, "The file did not finish", detail, extensions=extensions,
            headers={"Retry-After": "30"},
        )  # fmt: skip

    @http("POST", "/api/submissions")
    def api_submit_file(self, request: Request) -> Response:
        """Send an ASAP file.
        ---
        post:
          summary: Send an ASAP 4.2, 4.2A or 4.2B dispensation file (up to 20 MB)
          description: >
            Needs the permission `submission.upload`. A structural error rejects the whole
            file; a record with errors is refused alone and the rest are recorded. The same
            file sent again is recognised (status `duplicate`) and not counted twice. A test
            file (TH07 `T`) is checked the same way and answered with its report (status
            `tested`, `test_file` true, the counts of what would have been recorded) and
            records nothing.
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              multipart/form-data:
                schema:
                  type: object
                  required: [file]
                  properties:
                    file:
                      type: string
                      format: binary
          responses:
            201:
              description: Taken; the status says whether it was accepted, tested or rejected.
              content:
                application/json:
                  schema: Submission
            401: NotSignedIn
            403: RoleRefused
            413:
              description: The file is over 20 MB.
              content:
                application/problem+json:
                  schema: ValidationProblem
            422:
              description: No file was sent, or it was empty or damaged.
              content:
                application/problem+json:
                  schema: ValidationProblem
            503:
              description: >
                The file did not finish (the service stopped, the database failed). What is
                stored is stored once; send the same file again to finish it.
              headers:
                Retry-After:
                  schema:
                    type: integer
              content:
                application/problem+json:
                  schema: UnfinishedProblem
        """
        self.auth.require(request, self.services, Permission.SUBMISSION_UPLOAD)
        try:
            outcome = self._send_submission(request)
        except Unfinished as unfinished:
            raise self._unfinished_problem(unfinished.found) from None
        if outcome["status"] == "interrupted":
            raise self._unfinished_problem(outcome)
        return json_response(SubmissionSchema().dump(outcome), 201)

    @http("GET", "/api/submissions/<uuid:submission_id>")
    def api_submission(self, request: Request, submission_id: uuid.UUID) -> Response:
        """What became of a submission.
        ---
        get:
          summary: A submission's status and counts
          description: For whoever sent it, and for administrators and the help desk.
          security:
            - sessionToken: []
          parameters:{submission}
          responses:
            200:
              description: The submission.
              content:
                application/json:
                  schema: Submission
            401: NotSignedIn
            403: RoleRefused
            404: NoSuchSubmission
        """
        self._require_submission_reader(request)
        found = self._submissions("submission", submission_id=str(submission_id))
        return json_response(SubmissionSchema().dump(found))

    @http("GET", "/api/submissions/<uuid:submission_id>/errors")
    def api_submission_errors(self, request: Request, submission_id: uuid.UUID) -> Response:
        """A submission's error report.
        ---
        get:
          summary: Every error of a submission, as JSON or (with Accept text/csv) CSV
          description: >
            One entry per error, in the file's order: where it is (the segment's place in
            the file, its line and the byte it starts at: in a file without line breaks
            every error is on line 1), the segment, field, value and what to do. Send
            `Accept: text/csv` for a CSV file to open in a spreadsheet, with the same
            columns in the same order.
          security:
            - sessionToken: []
          parameters:{submission}
          responses:
            200:
              description: The report (empty when there were no errors).
              content:
                application/json:
                  schema: SubmissionErrors
                text/csv:
                  schema:
                    type: string
            401: NotSignedIn
            403: RoleRefused
            404: NoSuchSubmission
        """
        self._require_submission_reader(request)
        errors = self._submissions("error_report", submission_id=str(submission_id))
        if request.accept_mimetypes.best == "text/csv":
            return csv_download(report_csv(errors), f"errors-{submission_id}.csv")
        return json_response(SubmissionErrorsSchema().dump({"errors": errors}))

    def _require_submission_reader(self, request: Request) -> dict[str, Any]:
        """Data submitters read their own submissions; staff who view users read any."""
        principal = self.auth.require(request, self.services)
        granted = set(principal["permissions"])
        if not granted & {Permission.SUBMISSION_UPLOAD, Permission.USER_VIEW}:
            raise Problem(
                403,
                "You are not allowed to do this",
                "Your role does not include this. If you need it, contact an administrator.",
            )
        return principal

    api_submission.__doc__ = api_submission.__doc__.format(submission=_SUBMISSION)
    api_submission_errors.__doc__ = api_submission_errors.__doc__.format(submission=_SUBMISSION)


class Unfinished(Exception):
    """An upload got no answer; ``found``: its submission, not finished, if the service
    could say."""

    def __init__(self, found: dict[str, Any] | None):
        super().__init__("the file did not finish")
        self.found = found


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
