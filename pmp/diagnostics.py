"""The pipeline probe: an event every service can record, to prove the wiring end to end.

An operator (``POST /api/diagnostics/probes``) asks every service to record a
``ProbeRecorded`` event; each service's relay publishes it; the query service projects the
arrivals. When a probe has arrived from every service, store, relay, broker and projector
all work for all of them.
"""

from __future__ import annotations

from marshmallow import Schema, fields

from pmp.registry import EventRegistry

PROBE_RECORDED = "ProbeRecorded"


class ProbeRecordedSchema(Schema):
    probe_id = fields.UUID(required=True)
    service = fields.String(required=True)


def kernel_events() -> EventRegistry:
    """The event types every service records, whatever its domain."""
    registry = EventRegistry()
    registry.register(PROBE_RECORDED, ProbeRecordedSchema)
    return registry


def probe_stream(probe_id: str) -> str:
    return f"probe-{probe_id}"
