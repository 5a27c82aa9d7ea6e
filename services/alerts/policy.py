"""The thresholds of the clinical alert rules, which administrators may change.

The defaults are the common definitions: a multiple provider episode is 5 prescribers and 5
pharmacies within 90 days; daily MME is a caution at 50 and an alert at 90 (CDC 2016/2022);
long-term opioid use is more than 90 consecutive days. A change is an ``AlertPolicyChanged``
event holding the whole policy, so any past evaluation can be explained by the policy then.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from marshmallow import Schema, fields, validate, validates_schema
from marshmallow.exceptions import ValidationError

if TYPE_CHECKING:
    from pmp.eventstore import EventStore

POLICY_STREAM = "alert-policy"  # the alerts service's AlertPolicyChanged events

MethadoneMethod = Literal["file", "cdc_2016", "cdc_2022"]
METHADONE_METHODS: dict[str, str] = {
    "file": "The CDC file's factor (3) at every dose",
    "cdc_2016": "CDC 2016 sliding scale (4 / 8 / 10 / 12 by daily dose)",
    "cdc_2022": "CDC 2022 single factor (4.7)",
}


@dataclass(frozen=True)
class AlertPolicy:
    provider_prescribers: int = 5
    provider_pharmacies: int = 5
    provider_window_days: int = 90
    mme_caution: float = 50.0
    mme_alert: float = 90.0
    methadone_method: MethadoneMethod = "file"  # as the report's MME/day column counts it
    long_term_days: int = 90  # opioids active on more than this many consecutive days
    long_term_gap_days: int = 7  # gaps up to this long do not break a run
    notify_prescribers: bool = False  # unsolicited notices by email (off by default)
    notice_period_days: int = 180  # at most one notice per patient, prescriber and rule

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertPolicy:
        return cls(**PolicySchema().load(data))


class PolicySchema(Schema):
    """The policy as administrators send it and as ``AlertPolicyChanged`` stores it."""

    provider_prescribers = fields.Integer(required=True, strict=True,
                                          validate=validate.Range(2, 50))  # fmt: skip
    provider_pharmacies = fields.Integer(required=True, strict=True,
                                         validate=validate.Range(1, 50))  # fmt: skip
    provider_window_days = fields.Integer(required=True, strict=True,
                                          validate=validate.Range(7, 365))  # fmt: skip
    mme_caution = fields.Float(required=True, validate=validate.Range(1, 1000))
    mme_alert = fields.Float(required=True, validate=validate.Range(1, 1000))
    methadone_method = fields.String(required=True, validate=validate.OneOf(METHADONE_METHODS))
    long_term_days = fields.Integer(required=True, strict=True, validate=validate.Range(7, 365))
    long_term_gap_days = fields.Integer(required=True, strict=True,
                                        validate=validate.Range(0, 60))  # fmt: skip
    notify_prescribers = fields.Boolean(required=True)
    notice_period_days = fields.Integer(required=True, strict=True,
                                        validate=validate.Range(1, 730))  # fmt: skip

    @validates_schema
    def _caution_below_alert(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("mme_caution", 0) >= data.get("mme_alert", 0):
            raise ValidationError(
                "Must be below the alert level (mme_alert).", field_name="mme_caution"
            )


def policy_in_force(store: EventStore) -> AlertPolicy:
    """The newest policy appended (read from its stream, so it holds at once); the defaults
    before the first."""
    events = store.read_stream(POLICY_STREAM)
    return AlertPolicy.from_json(events[-1].data["policy"]) if events else AlertPolicy()
