"""marshmallow schemas of the audit service's own events.

An investigator rebuilding a patient's report sees patient data, so that is recorded too:
the trail chains it like any other event, listed under the patients it names. So is each
misuse signal the misuse watch raises (``misuse.py``), with its evidence: listed under its
patient too, it shows in "who looked at this patient".
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from pmp.registry import EventRegistry
from services.audit.signals import KINDS


class ReportRebuilt(Schema):
    person_ids = fields.List(fields.UUID(), required=True)
    as_of = fields.DateTime(required=True)
    months = fields.Integer(required=True)
    entry = fields.Integer(allow_none=True, load_default=None)  # the viewing rebuilt, if one
    format = fields.String(required=True)


class Searcher(Schema):
    name = fields.String(required=True)  # as the search recorded them
    role = fields.String(required=True)


class Evidence(Schema):
    text = fields.String(required=True)  # a sentence an administrator reads
    numbers = fields.Dict(keys=fields.String(), required=True)
    times = fields.List(fields.DateTime(), required=True)  # of the searches, in UTC


class MisuseSignalRaised(Schema):
    signal_id = fields.UUID(required=True)  # uuid5 of kind, searcher, subject and cause
    kind = fields.String(required=True, validate=validate.OneOf(list(KINDS)))
    account_id = fields.String(required=True)  # the searcher
    searcher = fields.Nested(Searcher, required=True)
    person_id = fields.UUID(allow_none=True, load_default=None)  # the patient, if one
    search_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1))
    evidence = fields.Nested(Evidence, required=True)
    raised_at = fields.DateTime(required=True)  # when the search that raised it was made


def audit_events() -> EventRegistry:
    registry = EventRegistry()
    registry.register("ReportRebuilt", ReportRebuilt)
    registry.register("MisuseSignalRaised", MisuseSignalRaised)
    return registry
