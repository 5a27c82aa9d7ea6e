"""marshmallow schemas of the alerts service's events.

``AlertRaised`` is appended when an episode is first found and again whenever its evidence
changes (same ``alert_id``: consumers keep the latest); ``AlertCleared`` when a revision, a
void, a merge or a new policy means the episode no longer holds. Each carries the evidence
in full, so an investigator replaying the history sees what a clinician was shown.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from pmp.registry import EventRegistry
from services.alerts.policy import PolicySchema
from services.alerts.rules import RULES

SNOOZE_MONTHS = (1, 3, 6)


def _ids(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("A list of dispensation ids.")


LEVELS = ("alert", "caution")


class AlertRaised(Schema):
    alert_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    rule = fields.String(required=True, validate=validate.OneOf(RULES))
    title = fields.String(required=True)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    summary = fields.String(required=True)
    numbers = fields.Dict(required=True)
    # Only its shape: the watch writes these ids from its own rows, often hundreds at a time.
    dispensation_ids = fields.Raw(required=True, validate=_ids)


class AlertCleared(Schema):
    alert_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    rule = fields.String(required=True, validate=validate.OneOf(RULES))


class AlertPolicyChanged(Schema):
    policy = fields.Nested(PolicySchema, required=True)


class Acknowledgement(Schema):
    """What a user sends: why the alert is expected, and for how long to set it aside."""

    reason = fields.String(required=True, validate=validate.Length(min=3, max=200))
    snooze_months = fields.Integer(required=True, strict=True,
                                   validate=validate.OneOf(SNOOZE_MONTHS))  # fmt: skip


class AlertAcknowledged(Acknowledgement):
    alert_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    account_id = fields.String(required=True)
    until = fields.Date(required=True)


def alerts_events() -> EventRegistry:
    registry = EventRegistry()
    for schema in (AlertRaised, AlertCleared, AlertPolicyChanged, AlertAcknowledged):
        registry.register(schema.__name__, schema)
    return registry
