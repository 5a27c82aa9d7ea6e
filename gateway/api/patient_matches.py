"""The patient index review API: administrators read the links the intake made with less
than certainty and decide whether each record is the same person as its candidate (see
``services/submissions/matches.py``). Patient data: administrators only."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.api.registration import problem_response
from gateway.http import http
from gateway.parameters import page_number
from gateway.responses import NO_STORE, json_response
from gateway.schemas import (
    PatientMatchDecidedSchema,
    PatientMatchDecisionSchema,
    PatientMatchDetailSchema,
    PatientMatchPageSchema,
    load_body,
)
from services.identity.roles import Permission

_RECORD = """
            - in: path
              name: patient_record
              required: true
              schema:
                type: integer"""


class PatientMatchesApi:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    def _patient_index(self, method: str, **kwargs: Any) -> Any:
        return self.services.call("submissions", method, self.settings.rpc_timeout, **kwargs)

    @http("GET", "/api/patient-matches")
    def api_patient_matches(self, request: Request) -> Response:
        """The review queue of uncertain patient links.
        ---
        get:
          summary: Links waiting for review (oldest first), or decided ones (newest first)
          description: Needs the permission `patient_index.review`.
          security:
            - sessionToken: []
          parameters:
            - in: query
              name: decided
              schema:
                type: boolean
            - in: query
              name: page
              schema:
                type: integer
                minimum: 1
          responses:
            200:
              description: One page of the queue.
              content:
                application/json:
                  schema: PatientMatchPage
            401: NotSignedIn
            403: RoleRefused
        """
        self.auth.require(request, self.services, Permission.PATIENT_INDEX_REVIEW)
        found = self._patient_index(
            "patient_matches",
            decided=request.args.get("decided") in {"1", "true"},
            page=page_number(request),
        )
        return json_response(PatientMatchPageSchema().dump(found), **NO_STORE)

    @http("GET", "/api/patient-matches/<int:patient_record>")
    def api_patient_match(self, request: Request, patient_record: int) -> Response:
        """One uncertain link.
        ---
        get:
          summary: An uncertain link with the patient records on both sides
          description: Needs the permission `patient_index.review`.
          security:
            - sessionToken: []
          parameters:{record}
          responses:
            200:
              description: The link, the record and each candidate's records.
              content:
                application/json:
                  schema: PatientMatchDetail
            401: NotSignedIn
            403: RoleRefused
            404: NoSuchPatientMatch
        """
        self.auth.require(request, self.services, Permission.PATIENT_INDEX_REVIEW)
        found = self._patient_index("patient_match", patient_record=patient_record)
        return json_response(PatientMatchDetailSchema().dump(found), **NO_STORE)

    @http("POST", "/api/patient-matches/<int:patient_record>/decision")
    def api_decide_patient_match(self, request: Request, patient_record: int) -> Response:
        """Decide an uncertain link.
        ---
        post:
          summary: Same person (confirm or merge) or different people (split or keep apart)
          description: >
            Needs the permission `patient_index.review`. A record is decided once; a second
            decision is refused with 409.
          security:
            - sessionToken: []
          parameters:{record}
          requestBody:
            required: true
            content:
              application/json:
                schema: PatientMatchDecision
          responses:
            200:
              description: Decided; the event recorded.
              content:
                application/json:
                  schema: PatientMatchDecided
            401: NotSignedIn
            403: RoleRefused
            404: NoSuchPatientMatch
            409:{decided}
            422:{invalid}
        """
        self.auth.require(request, self.services, Permission.PATIENT_INDEX_REVIEW)
        body = load_body(PatientMatchDecisionSchema(), request)
        decided = self._patient_index(
            "decide_patient_match",
            patient_record=patient_record,
            same=body["same"],
            person_id=str(body["person_id"]) if body.get("person_id") else None,
            note=body.get("note", ""),
        )
        return json_response(PatientMatchDecidedSchema().dump(decided), **NO_STORE)

    api_patient_match.__doc__ = api_patient_match.__doc__.format(record=_RECORD)
    api_decide_patient_match.__doc__ = api_decide_patient_match.__doc__.format(
        record=_RECORD,
        decided=problem_response("Already decided."),
        invalid=problem_response("A field is missing or not valid.", "ValidationProblem"),
    )
