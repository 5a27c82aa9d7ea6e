"""The registry's pages: the verification card module, and administrators' loading of the
registry file.

The verification card module is one page for one task, made for a phone at the roadside.

An officer types a card number, or a name and date of birth, and sees one large word
(VALID, EXPIRED, REVOKED, NOT FOUND) with the holder's name, date of birth, expiry date and
caregiver: nothing else. Officers with prescription access see the same form beside their
patient search (``search.html``). The answer is shown on the POST's own page, so no holder
data goes into a URL or the browser's history.

Administrators load the registry file from ``/admin/mm-registry`` (as ``pmp mm import`` and
``POST /api/mm/imports`` do): the page answers with the counts and a table of every refused
line, on the POST's own page, since nothing of an import is kept but its events. The same
page finds a card: its record (``/admin/mm-registry/cards/<number>``) shows the holder, the
card's status and the dispensaries' dispensations under its number, each marked when the
card was not valid that day or the patient is not the holder; a second page lists the
dispensations to check across all cards (unknown number, card not valid that day, not the
holder).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from nameko.exceptions import RemoteError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from gateway.api.mm import REGISTRY_FILE, RegistryApi
from gateway.http import http
from gateway.pages.accounts import redirect
from gateway.parameters import page_number
from gateway.problems import Problem
from services.identity.roles import Permission
from services.query.mm_cards import CARD_NUMBER
from services.registration.forms import FORM_ERROR, errors_in

FIELDS = ("card_number", "first_name", "last_name", "birth_date")
STATUS_CLASS = {
    "VALID": "valid",
    "EXPIRED": "expired",
    "REVOKED": "revoked",
    "NOT FOUND": "not-found",
}
#: The counts of an import as the page words them, in the order shown.
COUNT_WORDS = (
    ("lines", "Lines read"),
    ("registered", "Cards registered"),
    ("renewed", "Cards renewed"),
    ("corrected", "Cards corrected"),
    ("revoked", "Cards revoked"),
    ("unchanged", "Cards unchanged"),
    ("refused", "Lines refused"),
)
#: A card's standing on the day of a dispensation, as the card record words it.
STANDING_WORDS = {
    "valid": "Valid",
    "expired": "Expired",
    "not yet issued": "Not yet issued",
    "revoked": "Revoked",
    "no such card": "No such card",
}


class RegistryPages(RegistryApi):
    """Mixin of the gateway service (see ``gateway/service.py``); the API comes with it."""

    @http("GET", "/mm/verify")
    def verify_card_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.MM_REGISTRY_VERIFY)
        return self._verify_page(request, principal)

    @http("POST", "/mm/verify")
    def verify_card(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self.auth.require(request, self.services, Permission.MM_REGISTRY_VERIFY)
        values = {name: request.form.get(name, "").strip() for name in FIELDS}
        errors = _missing(values)
        if errors:
            return self._verify_page(request, principal, 422, values, errors)
        query: dict[str, Any] = {"card_number": values["card_number"]}
        if not values["card_number"]:
            query = {k: values[k] for k in ("first_name", "last_name")}
            query["birth_date"] = date.fromisoformat(values["birth_date"])
        try:
            found = self._verify_card(query)
        except RemoteError as exc:
            if exc.exc_type != "VerificationRefused":
                raise
            named = errors_in(str(exc.value), set(FIELDS))
            form_error = named.pop(FORM_ERROR, None)
            return self._verify_page(request, principal, 422, values, named, form_error)
        typed = "" if values["card_number"] else f"{values['first_name']} {values['last_name']}"
        for card in found["cards"]:  # a forgiven typo or nickname: the officer should know
            card["spelled_otherwise"] = bool(typed) and _words(card["name"]) != _words(typed)
        return self._verify_page(request, principal, 200, {}, found=found, typed=typed)

    def _verify_page(
        self, request: Request, principal: dict[str, Any], status: int = 200,
        values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
        form_error: str | None = None, found: dict[str, Any] | None = None, typed: str = "",
    ) -> Response:  # fmt: skip
        return self.auth.page(
            request, "mm_verify.html", principal, status, title="Card verification",
            active="mm-verify", values=values or {}, errors=errors or {},
            form_error=form_error, found=found, status_class=STATUS_CLASS, typed=typed,
        )  # fmt: skip

    # -- administrators: loading the registry file --------------------------------------------

    @http("GET", "/admin/mm-registry")
    def registry_import_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.MM_REGISTRY_LOAD)
        return self._import_page(request, principal)

    @http("POST", "/admin/mm-registry")
    def import_registry(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.MM_REGISTRY_LOAD)
        REGISTRY_FILE.limit(request)  # before the form is read
        try:
            try:
                self.auth.check_csrf(request)
            except RequestEntityTooLarge:
                raise REGISTRY_FILE.too_large() from None
            outcome = self._import_cards(*REGISTRY_FILE.read(request))
        except Problem as problem:
            if problem.status not in {413, 422}:
                raise
            errors = problem.extensions.get("errors") or {"file": problem.detail}
            return self._import_page(request, principal, problem.status, errors=errors)
        except RemoteError as exc:
            if exc.exc_type != "RegistryFileRefused":
                raise
            return self._import_page(request, principal, 422, errors={"file": str(exc.value)})
        return self._import_page(request, principal, 200, outcome=outcome)

    def _import_page(
        self, request: Request, principal: dict[str, Any], status: int = 200, **context: Any
    ) -> Response:
        return self.auth.page(
            request, "mm_import.html", principal, status, title="Load the registry file",
            active="mm-import", count_words=COUNT_WORDS, **context,
        )  # fmt: skip

    # -- administrators: a card's record, the dispensations to check ---------------------------

    @http("GET", "/admin/mm-registry/cards")
    def find_card(self, request: Request) -> Response:
        """The registry page's "Find a card" form: on to the card's page, or back to the form
        saying what to fix (a form cannot put what is typed into its action's path)."""
        principal = self.auth.require(request, self.services, Permission.MM_REGISTRY_RECORDS)
        typed = request.args.get("card_number", "").strip()
        number = typed.upper()
        if not CARD_NUMBER.match(number):
            error = "Enter the card number: 4 to 20 letters, digits or hyphens."
            if not typed:
                error = "Enter the card number."
            return self._import_page(
                request, principal, 422, find_number=typed, find_errors={"card_number": error}
            )
        return redirect(f"/admin/mm-registry/cards/{quote(number)}")

    @http("GET", "/admin/mm-registry/cards/<card_number>")
    def card_record_page(self, request: Request, card_number: str) -> Response:
        principal = self.auth.require(request, self.services, Permission.MM_REGISTRY_RECORDS)
        record = self._card_record(card_number)
        flagged = sum(d["to_check"] for d in record["dispensations"])
        return self.auth.page(
            request, "mm_card.html", principal, title=f"Card {record['card_number']}",
            active="mm-import", record=record, flagged=flagged, status_class=STATUS_CLASS,
            standing_words=STANDING_WORDS,
        )  # fmt: skip

    @http("GET", "/admin/mm-registry/to-check")
    def dispensations_to_check_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.MM_REGISTRY_RECORDS)
        found = self._dispensations_to_check(page_number(request))

        def page_link(number: int) -> str:
            return f"/admin/mm-registry/to-check?page={number}"

        return self.auth.page(
            request, "mm_to_check.html", principal, title="Dispensations to check",
            active="mm-import", found=found, page_link=page_link,
            standing_words=STANDING_WORDS,
        )  # fmt: skip


def _words(name: str) -> list[str]:
    """A name as spelled, case and spacing aside."""
    return name.upper().split()


def _missing(values: dict[str, str]) -> dict[str, str]:
    """A card number, or all of name and date of birth (a valid date)."""
    if values["card_number"]:
        return {}
    errors = {}
    if not values["first_name"]:
        errors["first_name"] = "Enter the first name, or a card number."
    if not values["last_name"]:
        errors["last_name"] = "Enter the last name, or a card number."
    if not values["birth_date"]:
        errors["birth_date"] = "Enter the date of birth, or a card number."
    else:
        try:
            date.fromisoformat(values["birth_date"])
        except ValueError:
            errors["birth_date"] = "Enter the date of birth as a date (YYYY-MM-DD)."
    return errors
