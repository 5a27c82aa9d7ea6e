"""The event schema registry's rules, without a database."""

from __future__ import annotations

import pytest
from marshmallow import Schema, fields

from pmp.registry import EventRegistry, EventValidationError


class Address(Schema):
    zip = fields.String(required=True)


class PatientLinked(Schema):
    patient_id = fields.UUID(required=True)
    address = fields.Nested(Address, required=True)


def test_nested_errors_name_the_full_path_of_the_field():
    registry = EventRegistry()
    registry.register("PatientLinked", PatientLinked)
    with pytest.raises(EventValidationError) as refused:
        registry.validate("PatientLinked", {"patient_id": "nope", "address": {}})
    assert set(refused.value.errors) == {"patient_id", "address.zip"}


def test_a_new_version_needs_an_upcaster_from_every_older_one():
    registry = EventRegistry()
    with pytest.raises(ValueError, match=r"upcasters from versions \[1, 2\]"):
        registry.register("PatientLinked", PatientLinked, version=3)


def test_a_type_is_registered_once():
    registry = EventRegistry()
    registry.register("PatientLinked", PatientLinked)
    with pytest.raises(ValueError, match="twice"):
        registry.register("PatientLinked", PatientLinked)


def test_upcasters_run_in_order_from_the_stored_version():
    registry = EventRegistry()
    registry.register(
        "PatientLinked",
        PatientLinked,
        version=3,
        upcasters={1: lambda d: {**d, "v2": True}, 2: lambda d: {**d, "v3": d["v2"]}},
    )
    assert registry.upcast("PatientLinked", 1, {}) == ({"v2": True, "v3": True}, 3)
    assert registry.upcast("PatientLinked", 3, {"x": 1}) == ({"x": 1}, 3)
