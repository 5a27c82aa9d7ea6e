"""Administrators' pages for the patient index: the queue of uncertain links and one link
with the records on both sides, where the administrator decides same person or not."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from nameko.exceptions import RemoteError
from werkzeug.wrappers import Request, Response

from gateway.api.patient_matches import PatientMatchesApi
from gateway.http import http
from gateway.pages.accounts import form_error, parse_time, redirect
from gateway.parameters import page_number
from services.identity.roles import Permission

KINDS = {
    "probabilistic": "Linked by similarity",
    "new": "Possible match",
}
QUESTIONS = {  # kind -> (same person button, different people button)
    "probabilistic": ("Confirm: same person", "Split: a different person"),
    "new": ("Merge: same person", "Keep apart: different people"),
}
NOTICES = {
    "decided": "Decided. Reports and alerts follow the decision, and the index uses it from "
    "the next file on."
}


def _times(match: dict[str, Any]) -> dict[str, Any]:
    match["linked_time"] = parse_time(match.get("linked_at"))
    match["decided_time"] = parse_time(match.get("decided_at"))
    match["kind_title"] = KINDS[match["kind"]]
    return match


class PatientMatchPages(PatientMatchesApi):
    """Mixin of the gateway service (see ``gateway/service.py``); the API comes with it."""

    @http("GET", "/admin/patient-matches")
    def patient_matches_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.PATIENT_INDEX_REVIEW)
        decided = request.args.get("decided") == "1"
        page = page_number(request)
        found = self._patient_index("patient_matches", decided=decided, page=page)
        for item in found["items"]:
            _times(item)
        pages = max(1, -(-found["total"] // found["page_size"]))

        def page_link(number: int) -> str:
            return "/admin/patient-matches?" + urlencode({"decided": int(decided), "page": number})

        return self.auth.page(
            request, "patient_matches.html", principal, title="Patient matches",
            active="patient-matches", found=found, decided=decided, pages=pages,
            page_link=page_link,
        )  # fmt: skip

    def _patient_match_page(self, request, principal, patient_record, status=200, **context):
        match = _times(self._patient_index("patient_match", patient_record=patient_record))
        return self.auth.page(
            request, "patient_match.html", principal, status=status,
            title=f"Patient match {patient_record}", active="patient-matches", match=match,
            questions=QUESTIONS[match["kind"]], notice=NOTICES.get(request.args.get("notice", "")),
            **context,
        )  # fmt: skip

    @http("GET", "/admin/patient-matches/<int:patient_record>")
    def patient_match_page(self, request: Request, patient_record: int) -> Response:
        principal = self.auth.require(request, self.services, Permission.PATIENT_INDEX_REVIEW)
        return self._patient_match_page(request, principal, patient_record)

    @http("POST", "/admin/patient-matches/<int:patient_record>")
    def decide_patient_match(self, request: Request, patient_record: int) -> Response:
        self.auth.check_csrf(request)
        principal = self.auth.require(request, self.services, Permission.PATIENT_INDEX_REVIEW)
        answer = request.form.get("same")
        if answer not in {"yes", "no"}:
            return self._patient_match_page(
                request, principal, patient_record, status=422,
                error="Choose same person or different people.",
            )  # fmt: skip
        try:
            self._patient_index(
                "decide_patient_match",
                patient_record=patient_record,
                same=answer == "yes",
                person_id=request.form.get("person_id") or None,
                note=request.form.get("note", "")[:500],
            )
        except RemoteError as exc:
            status, message = form_error(exc)
            return self._patient_match_page(
                request, principal, patient_record, status=status, error=message
            )
        return redirect(f"/admin/patient-matches/{patient_record}?notice=decided")
