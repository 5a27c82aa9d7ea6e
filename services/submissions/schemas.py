"""marshmallow schemas of the submissions service's events.

A batch of dispensations is checked field by field by the ASAP parser before it is recorded,
so ``DispensationsRecorded`` checks only its shape here: validating a thousand records again,
field by field, would cost more than parsing them (the intake's goal is 20,000 records/s).
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from pmp.registry import EventRegistry

MAX_BATCH = 1000
_CHANNEL = validate.OneOf(["web", "bulk"])


class Problem(Schema):
    """One line of an error report, as the submitter reads it (``error_report.COLUMNS``).
    Events recorded before a line gave its segment's place and byte have neither."""

    segment_number = fields.Integer()
    line = fields.Integer(required=True)
    byte_offset = fields.Integer()
    segment = fields.String(required=True)
    field = fields.String(required=True)
    value = fields.String(required=True)
    message = fields.String(required=True)
    severity = fields.String(validate=validate.OneOf(["error", "note"]))  # none before notes


class SubmissionReceived(Schema):
    submission_id = fields.UUID(required=True)
    sha256 = fields.String(required=True, validate=validate.Length(equal=64))
    filename = fields.String(required=True, validate=validate.Length(min=1, max=200))
    size = fields.Integer(required=True, validate=validate.Range(min=0))
    channel = fields.String(required=True, validate=_CHANNEL)


class SubmissionRejected(Schema):
    reason = fields.String(required=True)
    errors = fields.List(fields.Nested(Problem), required=True)  # the first ones
    error_count = fields.Integer(required=True)
    test_file = fields.Boolean(required=True)  # TH07 T: a test file, rejected as any other


class SubmissionAccepted(Schema):
    version = fields.String(required=True)
    records = fields.Integer(required=True)
    recorded = fields.Integer(required=True)
    revised = fields.Integer(required=True)
    voided = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    unknown_ndc = fields.Integer(required=True)
    zero_report = fields.Boolean(required=True)
    #: Of the records recorded, revised or voided, how many were a dispensary's medical
    #: marijuana dispensations (DSP07 ``MM``).
    marijuana = fields.Integer(load_default=0)


class SubmissionTested(SubmissionAccepted):
    """A test file's outcome (TH07 ``T``): the counts are what a production file would have
    recorded, revised, voided and refused (its error report is kept as any file's), and
    nothing was recorded. A submission all the same: its sender reads its report; the
    dispensation counts every consumer keeps never see it."""


class SubmissionInterrupted(Schema):
    """The file's intake stopped before its end (its process killed, its database failed):
    what it stored, once, and what to do (send the same file again to finish it). A test
    file's counts are would-haves, as in ``SubmissionTested``: nothing of it is stored."""

    records = fields.Integer(required=True)  # records of the file taken so far
    recorded = fields.Integer(required=True)
    revised = fields.Integer(required=True)
    voided = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    unknown_ndc = fields.Integer(required=True)
    marijuana = fields.Integer(required=True)
    reason = fields.String(required=True)
    test_file = fields.Boolean(required=True)


class SubmissionResumed(Schema):
    """The same file came again: its intake continues after the ``records`` taken before;
    the ``SubmissionAccepted`` that ends it counts the whole file."""

    records = fields.Integer(required=True)


def _batch(records: object) -> None:
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_BATCH:
        raise ValidationError(f"A batch is a list of 1 to {MAX_BATCH} records.")


class DispensationsRecorded(Schema):
    """Each record: dispensation_id, person_id, link, patient_record, line, and the
    pharmacy, patient, dispensation, prescriber and drug fields (text, as received)."""

    submission_id = fields.UUID(required=True)
    records = fields.Raw(required=True, validate=_batch)  # only its shape: see above


class DispensationRevised(Schema):
    dispensation_id = fields.UUID(required=True)
    submission_id = fields.UUID(required=True)
    record = fields.Dict(required=True)


class DispensationVoided(Schema):
    dispensation_id = fields.UUID(required=True)
    submission_id = fields.UUID(required=True)


class PatientLinked(Schema):
    """A link made with less than certainty, for the administrators' review queue: by
    similarity ("probabilistic"), or to a new person with possible matches ("new")."""

    person_id = fields.UUID(required=True)
    patient_record = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["new", "probabilistic"]))
    score = fields.Float(required=True)
    possible = fields.List(fields.Dict(), required=True)  # [{person_id, score}]
    reasons = fields.List(fields.String(), required=True)  # e.g. "first: nickname +4"
    submission_id = fields.UUID(required=True)


class _Decision(Schema):
    """An administrator's decision on one reviewed link (stream ``patient-record-<n>``)."""

    patient_record = fields.Integer(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=500))


class PatientsMerged(_Decision):
    """``merged_person_id`` is ``person_id``: every record and dispensation of the merged
    person is the kept person's from now on."""

    person_id = fields.UUID(required=True)
    merged_person_id = fields.UUID(required=True)


class PatientSplit(_Decision):
    """The record (and the dispensations found through it) is not ``person_id``: it is the
    new person ``new_person_id``."""

    person_id = fields.UUID(required=True)
    new_person_id = fields.UUID(required=True)


class PatientLinkConfirmed(_Decision):
    person_id = fields.UUID(required=True)


class PatientsKeptApart(_Decision):
    """The possible matches are other people; nothing changes."""

    person_id = fields.UUID(required=True)


#: A submission's own events, from its receipt to its outcome: what its summary is read
#: from, never its batches of records (a megabyte per 1,000 records).
SUBMISSION_OUTCOME_EVENTS = {
    "SubmissionReceived": SubmissionReceived,
    "SubmissionRejected": SubmissionRejected,
    "SubmissionAccepted": SubmissionAccepted,
    "SubmissionTested": SubmissionTested,
    "SubmissionInterrupted": SubmissionInterrupted,
    "SubmissionResumed": SubmissionResumed,
}


def submissions_events() -> EventRegistry:
    registry = EventRegistry()
    for name, schema in [
        *SUBMISSION_OUTCOME_EVENTS.items(),
        ("DispensationsRecorded", DispensationsRecorded),
        ("DispensationRevised", DispensationRevised),
        ("DispensationVoided", DispensationVoided),
        # A dispensary's medical marijuana dispensations (DSP07 MM): the same shapes, their
        # own types, so that no consumer of Schedule II-V dispensations reads them. Each
        # record: dispensation_id, card_number, line, and the dispensary, patient,
        # dispensation and certifier fields as received (no drug, no patient index person).
        ("MarijuanaDispensationsRecorded", DispensationsRecorded),
        ("MarijuanaDispensationRevised", DispensationRevised),
        ("MarijuanaDispensationVoided", DispensationVoided),
        ("PatientLinked", PatientLinked),
        ("PatientsMerged", PatientsMerged),
        ("PatientSplit", PatientSplit),
        ("PatientLinkConfirmed", PatientLinkConfirmed),
        ("PatientsKeptApart", PatientsKeptApart),
    ]:
        registry.register(name, schema, *VERSIONS.get(name, ()))
    return registry


def _production_file(data: dict) -> dict:
    """Version 1 of the outcomes was written before test files were told apart (issue 24):
    every file was taken as production."""
    return {**data, "test_file": False}


#: Event types past version 1: their version and upcasters.
VERSIONS = {
    "SubmissionRejected": (2, {1: _production_file}),
    "SubmissionInterrupted": (2, {1: _production_file}),
}
