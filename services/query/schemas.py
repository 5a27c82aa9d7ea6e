"""marshmallow schemas of the query service's events and of the searches it is asked for.

Every search and every report viewed is an event, so the audit service keeps who looked at
whom, why, and how far back: what investigators replay when a user's access is questioned.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from pmp.registry import EventRegistry
from services.query.report import MAX_MONTHS

PURPOSES = {
    "treating": "Current patient under my care",
    "dispensing": "Patient at my pharmacy counter",
    "investigation": "Active investigation",
}
REPORT_FORMATS = ("page", "json", "pdf", "alerts_pdf")


class SearchRequest(Schema):
    """What a user types: first and last name, date of birth; the rest narrows."""

    first_name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    birth_date = fields.Date(required=True)
    partial_first_name = fields.Boolean(load_default=False)
    zip = fields.String(
        load_default="", validate=validate.Regexp(r"^([0-9]{5})?$", error="Give 5 digits.")
    )
    state = fields.String(
        load_default="", validate=validate.Regexp(r"^([A-Za-z]{2})?$", error="Give 2 letters.")
    )


class Purpose(Schema):
    """The attestation made before each search, as the policy manual requires."""

    kind = fields.String(required=True, validate=validate.OneOf(list(PURPOSES)))
    attested = fields.Boolean(required=True, validate=validate.Equal(True, error="Attest first."))
    case_number = fields.String(load_default="", validate=validate.Length(max=40))


class Person(Schema):
    account_id = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)


class _Request(Schema):
    search_id = fields.UUID(required=True)
    requester = fields.Nested(Person, required=True)
    on_behalf_of = fields.Nested(Person, allow_none=True, load_default=None)
    purpose = fields.Dict(required=True)  # kind, text, case_number
    person_ids = fields.List(fields.UUID(), required=True)


class PatientSearched(_Request):
    criteria = fields.Dict(required=True)  # the search as typed (patient data: events only)


class PatientReportViewed(_Request):
    months = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_MONTHS))
    format = fields.String(required=True, validate=validate.OneOf(REPORT_FORMATS))


# -- the medical marijuana registry (``mm_cards.py``, ``mm_registry.py``) ----------------------


class CardSource(Schema):
    """Where a change came from: the file and its line."""

    filename = fields.String(required=True, validate=validate.Length(min=1, max=200))
    line = fields.Integer(required=True)


class _CardChange(Schema):
    card_number = fields.String(required=True, validate=validate.Length(min=4, max=20))
    source = fields.Nested(CardSource, required=True)


class CardRegistered(_CardChange):
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    birth_date = fields.Date(required=True)
    address = fields.String(required=True)
    city = fields.String(required=True)
    state = fields.String(required=True, validate=validate.Length(equal=2))
    zip = fields.String(required=True)
    practitioner = fields.String(required=True)
    practitioner_npi = fields.String(required=True)
    caregiver = fields.String(required=True)  # "" when the holder has none
    issue_date = fields.Date(required=True)
    expiry_date = fields.Date(required=True)


class CardRenewed(_CardChange):
    issue_date = fields.Date(required=True)
    expiry_date = fields.Date(required=True)
    practitioner = fields.String(required=True)
    practitioner_npi = fields.String(required=True)


class CardRevoked(_CardChange):
    reason = fields.String(required=True)


class CardDetailsCorrected(_CardChange):
    changes = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


VERIFICATION_RESULTS = ("VALID", "EXPIRED", "REVOKED", "NOT FOUND")


class CardQuery(Schema):
    """What an officer typed: a card number, or a name and date of birth."""

    card_number = fields.String(load_default="", validate=validate.Length(max=20))
    first_name = fields.String(load_default="", validate=validate.Length(max=60))
    last_name = fields.String(load_default="", validate=validate.Length(max=60))
    birth_date = fields.Date(load_default=None, allow_none=True)


class CardVerified(Schema):
    """One verification: the officer, what they asked, and what they were told."""

    verification_id = fields.UUID(required=True)
    officer = fields.Nested(Person, required=True)
    query = fields.Dict(required=True)  # CardQuery as typed (holder data: events only)
    result = fields.String(required=True, validate=validate.OneOf(VERIFICATION_RESULTS))
    card_numbers = fields.List(fields.String(), required=True)  # the cards found


class CardRecordViewed(Schema):
    """An administrator read a card's record with its dispensations (linked by number)."""

    viewer = fields.Nested(Person, required=True)
    card_number = fields.String(required=True, validate=validate.Length(min=4, max=20))
    dispensations = fields.Integer(required=True)  # how many were shown


def query_events() -> EventRegistry:
    registry = EventRegistry()
    registry.register("PatientSearched", PatientSearched)
    registry.register("PatientReportViewed", PatientReportViewed)
    for name, schema in (
        ("CardRegistered", CardRegistered),
        ("CardRenewed", CardRenewed),
        ("CardRevoked", CardRevoked),
        ("CardDetailsCorrected", CardDetailsCorrected),
        ("CardVerified", CardVerified),
        ("CardRecordViewed", CardRecordViewed),
    ):
        registry.register(name, schema)
    return registry
