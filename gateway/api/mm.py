"""The medical marijuana registry in the JSON API: administrators load the registry file and
read a card's record with the dispensations reported under it, law-enforcement officers
verify a card (see ``services/query/mm_rpc.py``). Every answer but the load's carries holder
data: none may be cached."""

from __future__ import annotations

import base64
from typing import Any

from werkzeug.wrappers import Request, Response

from gateway.api.registration import problem_response
from gateway.http import http
from gateway.parameters import page_number
from gateway.responses import NO_STORE, json_response
from gateway.schemas import (
    CardRecordSchema,
    CardVerificationResultSchema,
    CardVerificationSchema,
    DispensationsToCheckSchema,
    RegistryImportSchema,
    load_body,
)
from gateway.uploads import DataFile
from services.identity.roles import Permission

IMPORT_TIMEOUT = 120.0  # seconds: a card read and an append per line
_DOCUMENTED = {
    "refused": problem_response("Neither a card number nor a name and date of birth."),
    "file_refused": problem_response("No file, or one without the documented header line."),
    "bad_number": problem_response("Not a card number: 4 to 20 letters, digits or hyphens."),
    "no_record": problem_response("Neither a card nor a dispensation has this number."),
    "bad_page": problem_response("The page is not a whole number."),
}


REGISTRY_FILE = DataFile(
    send="Send the registry CSV file in the form field `file` (up to 20 MB).",
    choose="Choose the registry file to load.",
    larger="Files over 20 MB are loaded with `pmp mm import` on a server.",
)


class RegistryApi:
    """Mixin of the gateway service (see ``gateway/service.py``)."""

    def _verify_card(self, query: dict[str, Any]) -> dict[str, Any]:
        if query.get("birth_date") is not None:
            query = {**query, "birth_date": query["birth_date"].isoformat()}
        return self.services.call("query", "verify_card", self.settings.rpc_timeout, query=query)

    def _import_cards(self, filename: str, content: bytes) -> dict[str, Any]:
        """Load the registry file (the API's and the administrators' page's)."""
        return self.services.call(
            "query", "import_cards", IMPORT_TIMEOUT,
            filename=filename, content=base64.b64encode(content).decode(),
        )  # fmt: skip

    def _card_record(self, card_number: str) -> dict[str, Any]:
        """The card's record (recorded as ``CardRecordViewed``); the API's and the page's."""
        return self.services.call(
            "query", "mm_card_record", self.settings.rpc_timeout, card_number=card_number
        )

    def _dispensations_to_check(self, page: int) -> dict[str, Any]:
        return self.services.call(
            "query", "mm_dispensations_to_check", self.settings.rpc_timeout, page=page
        )

    @http("POST", "/api/mm/verifications")
    def api_verify_card(self, request: Request) -> Response:
        """Verify a medical marijuana registry card.
        ---
        post:
          summary: Is this registry card valid today?
          description: >
            Needs the permission `mm_registry.verify` (law enforcement, registry-only or
            with prescription access). Give the card number, or the holder's first name,
            last name and date of birth. The answer shows only the status, card number,
            name, date of birth, expiry date and caregiver. Every verification is recorded
            (CardVerified) with the officer, the query and the result.
          security:
            - sessionToken: []
          requestBody:
            required: true
            content:
              application/json:
                schema: CardVerification
          responses:
            200:
              description: VALID, EXPIRED, REVOKED or NOT FOUND, and the cards found.
              content:
                application/json:
                  schema: CardVerificationResult
            401: NotSignedIn
            403: RoleRefused
            422:{refused}
        """
        self.auth.require(request, self.services, Permission.MM_REGISTRY_VERIFY)
        body = load_body(CardVerificationSchema(), request)
        found = self._verify_card(body)
        return json_response(CardVerificationResultSchema().dump(found), **NO_STORE)

    @http("POST", "/api/mm/imports")
    def api_import_cards(self, request: Request) -> Response:
        """Load the medical marijuana registry file.
        ---
        post:
          summary: Load registry cards from a CSV file in the documented layout
          description: >
            Needs the permission `mm_registry.load` (administrators). Each good line is
            recorded (CardRegistered, CardRenewed, CardRevoked, CardDetailsCorrected) and
            each bad one reported by line and field; loading the same file again records
            nothing new. Layout: docs/mm-registry.md.
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
            200:
              description: The counts of what changed and every refused line.
              content:
                application/json:
                  schema: RegistryImport
            401: NotSignedIn
            403: RoleRefused
            422:{file_refused}
        """
        self.auth.require(request, self.services, Permission.MM_REGISTRY_LOAD)
        outcome = self._import_cards(*REGISTRY_FILE.read(request))
        return json_response(RegistryImportSchema().dump(outcome), **NO_STORE)

    @http("GET", "/api/mm/cards/<card_number>")
    def api_card_record(self, request: Request, card_number: str) -> Response:
        """A registry card's record with the dispensations reported under its number.
        ---
        get:
          summary: The card's holder and status, and the dispensaries' dispensations under it
          description: >
            Needs the permission `mm_registry.records` (administrators). The card (null when
            the registry has no card with this number but dispensations were reported under
            it) and every dispensation reported under the number, newest first, each with
            the card's standing on the day it was filled and whether the patient reported is
            the holder. Every read is recorded (CardRecordViewed).
          security:
            - sessionToken: []
          parameters:
            - in: path
              name: card_number
              required: true
              schema:
                type: string
                example: MM-100001
          responses:
            200:
              description: The card and its dispensations.
              content:
                application/json:
                  schema: CardRecord
            401: NotSignedIn
            403: RoleRefused
            404:{no_record}
            422:{bad_number}
        """
        self.auth.require(request, self.services, Permission.MM_REGISTRY_RECORDS)
        found = self._card_record(card_number)
        return json_response(CardRecordSchema().dump(found), **NO_STORE)

    @http("GET", "/api/mm/dispensations-to-check")
    def api_dispensations_to_check(self, request: Request) -> Response:
        """Dispensaries' dispensations an administrator should check.
        ---
        get:
          summary: Dispensations under an unknown card, on an invalid card, or to a non-holder
          description: >
            Needs the permission `mm_registry.records` (administrators). Every dispensation
            reported under a card number no registry card has (a mistyped number, or a card
            not loaded yet), filled on a day the card was not valid (expired, not yet issued,
            revoked), or to a patient who is not the card's holder. Judged again whenever a
            registry file changes a card, so a card loaded later takes its dispensations off
            this list. Newest first, 50 a page.
          security:
            - sessionToken: []
          parameters:
            - in: query
              name: page
              description: From 1; a page past the last gives the last.
              schema:
                type: integer
                minimum: 1
                default: 1
          responses:
            200:
              description: One page, with the total count.
              content:
                application/json:
                  schema: DispensationsToCheck
            401: NotSignedIn
            403: RoleRefused
            422:{bad_page}
        """
        self.auth.require(request, self.services, Permission.MM_REGISTRY_RECORDS)
        found = self._dispensations_to_check(page_number(request))
        return json_response(DispensationsToCheckSchema().dump(found), **NO_STORE)

    api_verify_card.__doc__ = api_verify_card.__doc__.format(**_DOCUMENTED)
    api_import_cards.__doc__ = api_import_cards.__doc__.format(**_DOCUMENTED)
    api_card_record.__doc__ = api_card_record.__doc__.format(**_DOCUMENTED)
    api_dispensations_to_check.__doc__ = api_dispensations_to_check.__doc__.format(**_DOCUMENTED)
