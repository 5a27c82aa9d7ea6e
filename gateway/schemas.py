"""marshmallow schemas of the JSON API: they validate requests and document responses."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String()
    correlation_id = fields.UUID(metadata={"description": "Quote it to the help desk."})


class ComponentHealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok", "down"]))
    latency_ms = fields.Float(allow_none=True)
    error = fields.String()


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok", "degraded"]))
    checked_at = fields.AwareDateTime(required=True)
    broker = fields.Nested(ComponentHealthSchema, required=True)
    services = fields.Dict(
        keys=fields.String(), values=fields.Nested(ComponentHealthSchema), required=True
    )


class ProbeCreatedSchema(Schema):
    probe_id = fields.UUID(required=True)
    recorded = fields.List(fields.String(), required=True)
    failed = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    status_url = fields.String(required=True)


class ProbeStatusSchema(Schema):
    probe_id = fields.UUID(required=True)
    complete = fields.Boolean(
        required=True, metadata={"description": "Every service's probe reached the query service."}
    )
    arrived = fields.Dict(keys=fields.String(), values=fields.AwareDateTime(), required=True)
    missing = fields.List(fields.String(), required=True)
