"""The help desk's policy, which administrators change: response targets, reopen period,
holidays.

Defaults (also in the README, "The help desk"):

- Critical: first response within 1 hour, counted around the clock (fatal errors, all
  useful work prevented, data lost or corrupted: continuous effort until resolved).
- High: 4 support hours (major functions disabled: a workaround now, a fix considered).
- Medium: 9 support hours, one working day (non-essential functions disabled).
- Low: 27 support hours, three working days (enhancements, questions about the software).
- A resolved ticket may be reopened by its user for 14 days.
- No holidays: administrators enter the state's holidays for the year, each a date.

A change is a ``HelpdeskPolicyChanged`` event holding the whole policy. Deadlines are not
stored on tickets: the queue computes them from the policy in force, so a holiday added
today moves the targets of tickets still waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, fields, validate, validates_schema
from marshmallow.exceptions import ValidationError

from services.helpdesk.business_hours import CATEGORIES, CRITICAL, HIGH, LOW, MEDIUM

if TYPE_CHECKING:
    from pmp.eventstore import EventStore

POLICY_STREAM = "helpdesk-policy"

CATEGORY_TITLES = {CRITICAL: "Critical", HIGH: "High", MEDIUM: "Medium", LOW: "Low"}
CATEGORY_DESCRIPTIONS = {
    CRITICAL: "Fatal errors, all useful work prevented, or loss or corruption of data. "
    "Continuous effort until resolved.",
    HIGH: "Major functions disabled. A workaround is given and a fix is considered.",
    MEDIUM: "Non-essential functions disabled. A fix is considered for a future release.",
    LOW: "Requests for enhancement, and difficulties understanding the software or its "
    "documentation.",
}
DEFAULT_TARGET_HOURS = {CRITICAL: 1, HIGH: 4, MEDIUM: 9, LOW: 27}


@dataclass(frozen=True)
class HelpdeskPolicy:
    target_hours: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_TARGET_HOURS))
    reopen_days: int = 14
    holidays: tuple[date, ...] = ()

    def target(self, category: str) -> timedelta:
        return timedelta(hours=self.target_hours[category])

    def to_json(self) -> dict[str, Any]:
        return {
            "target_hours": {c: self.target_hours[c] for c in CATEGORIES},
            "reopen_days": self.reopen_days,
            "holidays": [d.isoformat() for d in sorted(self.holidays)],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HelpdeskPolicy:
        loaded = PolicySchema().load(data)
        return cls(
            target_hours=dict(loaded["target_hours"]),
            reopen_days=loaded["reopen_days"],
            holidays=tuple(sorted(set(loaded["holidays"]))),
        )


class TargetHoursSchema(Schema):
    critical = fields.Integer(required=True, strict=True, validate=validate.Range(1, 72))
    high = fields.Integer(required=True, strict=True, validate=validate.Range(1, 200))
    medium = fields.Integer(required=True, strict=True, validate=validate.Range(1, 400))
    low = fields.Integer(required=True, strict=True, validate=validate.Range(1, 800))


class PolicySchema(Schema):
    """The policy as administrators send it and as ``HelpdeskPolicyChanged`` stores it."""

    target_hours = fields.Nested(TargetHoursSchema, required=True)
    reopen_days = fields.Integer(required=True, strict=True, validate=validate.Range(0, 365))
    holidays = fields.List(fields.Date(), required=True, validate=validate.Length(max=100))

    @validates_schema
    def _targets_in_order(self, data: dict[str, Any], **_: Any) -> None:
        hours = data.get("target_hours") or {}
        if hours and not hours["high"] <= hours["medium"] <= hours["low"]:
            raise ValidationError(
                "High must not be longer than Medium, nor Medium than Low.",
                field_name="target_hours",
            )


def policy_in_force(store: EventStore) -> HelpdeskPolicy:
    """The newest policy appended; the defaults before the first."""
    events = store.read_stream(POLICY_STREAM)
    return HelpdeskPolicy.from_json(events[-1].data["policy"]) if events else HelpdeskPolicy()
