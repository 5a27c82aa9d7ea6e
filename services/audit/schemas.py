"""marshmallow schemas of the audit service's own events.

An investigator rebuilding a patient's report sees patient data, so that is recorded too:
the trail chains it like any other event, listed under the patients it names.
"""

from __future__ import annotations

from marshmallow import Schema, fields

from pmp.registry import EventRegistry


class ReportRebuilt(Schema):
    person_ids = fields.List(fields.UUID(), required=True)
    as_of = fields.DateTime(required=True)
    months = fields.Integer(required=True)
    entry = fields.Integer(allow_none=True, load_default=None)  # the viewing rebuilt, if one
    format = fields.String(required=True)


def audit_events() -> EventRegistry:
    registry = EventRegistry()
    registry.register("ReportRebuilt", ReportRebuilt)
    return registry
