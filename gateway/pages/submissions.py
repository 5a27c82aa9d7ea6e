"""Pages for pharmacies' data submitters: send an ASAP file, see its outcome and error report."""

from __future__ import annotations

import math
import uuid
from typing import Any
from urllib.parse import urlencode

from nameko.exceptions import RemoteError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from gateway.api.submissions import ASAP_FILE, SubmissionsApi, Unfinished
from gateway.http import http
from gateway.pages.accounts import parse_time, redirect
from gateway.parameters import page_number
from gateway.problems import Problem
from gateway.responses import csv_download
from services.identity.roles import Permission
from services.submissions.error_report import errors_and_notes, report_csv

#: Lines of an error report per page: a refused file's report may list 1,000 errors and as
#: many notes, too long to read or render as one page (the CSV has them all).
REPORT_LINES_PER_PAGE = 100


class SubmissionPages(SubmissionsApi):
    """Mixin of the gateway service (see ``gateway/service.py``). It builds on the API's
    upload helpers, so the API's routes come with it."""

    @http("GET", "/submissions")
    def submissions_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.SUBMISSION_UPLOAD)
        return self._upload_page(request, principal)

    def _upload_page(self, request: Request, principal, status: int = 200, **context) -> Response:
        return self.auth.page(
            request, "submissions.html", principal, status=status,
            title="Send dispensation data", active="submissions", **context,
        )  # fmt: skip

    @http("POST", "/submissions")
    def send_submission(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.SUBMISSION_UPLOAD)
        ASAP_FILE.limit(request)  # before the form is read
        try:
            try:
                self.auth.check_csrf(request)
            except RequestEntityTooLarge:
                raise ASAP_FILE.too_large() from None
            outcome = self._send_submission(request)
        except Problem as problem:
            if problem.status not in {413, 422}:
                raise
            errors = problem.extensions.get("errors") or {"file": problem.detail}
            return self._upload_page(request, principal, problem.status, errors=errors)
        except RemoteError as exc:
            if exc.exc_type != "SubmissionRefused":
                raise
            return self._upload_page(request, principal, 422, errors={"file": str(exc.value)})
        except Unfinished as unfinished:
            if unfinished.found is None:  # not even where it got: say so, and what to do
                return self._upload_page(request, principal, 503, unknown_outcome=True)
            outcome = {**unfinished.found, "status": "interrupted"}
        if outcome["status"] == "interrupted" and not outcome.get("submission_id"):
            return self._upload_page(request, principal, 503, unknown_outcome=True)
        marks = {"duplicate": "?duplicate=1", "interrupted": "?unfinished=1"}
        return redirect(
            f"/submissions/{outcome['submission_id']}{marks.get(outcome['status'], '')}"
        )

    @http("GET", "/submissions/<uuid:submission_id>")
    def submission_page(self, request: Request, submission_id: uuid.UUID) -> Response:
        principal = self._require_submission_reader(request)
        found: dict[str, Any] = self._submissions("submission", submission_id=str(submission_id))
        found["received_time"] = parse_time(found.get("received_at"))
        report = self._submissions("error_report", submission_id=str(submission_id))
        errors, notes = errors_and_notes(report)
        lines = [*errors, *notes]  # the errors first, then the notes, as the page shows them
        pages = max(1, math.ceil(len(lines) / REPORT_LINES_PER_PAGE))
        page = min(page_number(request), pages)
        first = (page - 1) * REPORT_LINES_PER_PAGE
        shown = lines[first : first + REPORT_LINES_PER_PAGE]
        shown_errors, shown_notes = errors_and_notes(shown)

        def page_link(number: int) -> str:
            return f"/submissions/{submission_id}?" + urlencode({"page": number}) + "#report"

        return self.auth.page(
            request, "submission.html", principal, title=found.get("filename") or "Submission",
            active="submissions", submission=found, errors=shown_errors, notes=shown_notes,
            error_total=len(errors), note_total=len(notes), page=page, pages=pages,
            page_link=page_link, shown_from=first + 1, shown_to=first + len(shown),
            duplicate=request.args.get("duplicate") == "1",
            unfinished=request.args.get("unfinished") == "1",
        )  # fmt: skip

    @http("GET", "/submissions/<uuid:submission_id>/errors.csv")
    def submission_errors_csv(self, request: Request, submission_id: uuid.UUID) -> Response:
        self._require_submission_reader(request)
        errors = self._submissions("error_report", submission_id=str(submission_id))
        return csv_download(report_csv(errors), f"errors-{submission_id}.csv")
