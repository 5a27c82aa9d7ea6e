"""The gateway's compiled answer shapes give what marshmallow's dump gives: the schema's
fields only (a key a service added stays inside), ``data_key`` renames, a missing key left
out, None kept; a schema it cannot compile is dumped by marshmallow."""

from __future__ import annotations

from datetime import date

from marshmallow import Schema, fields

from gateway.schemas import PatientReportSchema, PatientSearchResultSchema
from gateway.shapes import shaper
from tests.unit.test_query_documents import REQUESTER, sample_report

ALERT = {
    "alert_id": "a1", "person_id": "p", "rule": "high_mme", "title": "High daily MME",
    "level": "alert", "start": "2026-01-01", "end": "2026-02-01", "ongoing": True,
    "evidence": "120 MME/day", "numbers": {"mme": 120}, "dispensation_ids": ["d1"],
    "internal_note": "not for the API",
}  # fmt: skip


def reports() -> list[dict]:
    plain = sample_report(rows=3)
    alerted = {**plain, "alerts": {"engine": "connected", "items": [ALERT],
                                   "snoozed": [{**ALERT, "snoozed": {"reason": "hospice",
                                                                     "until": "2027-01-01"}}]},
               "on_behalf_of": {**REQUESTER, "role_title": "Prescriber"},
               "service_only": "never shown"}  # fmt: skip
    partial = {k: v for k, v in plain.items() if k not in ("summary", "months")}
    nulls = {**plain, "dispensations": [{**plain["dispensations"][0], "days_supply": None}]}
    return [plain, alerted, partial, nulls]


def test_a_report_is_shaped_as_marshmallow_dumps_it() -> None:
    schema = PatientReportSchema()
    shape = shaper(schema)
    for report in reports():
        assert shape(report) == schema.dump(report)
    shaped = shape(reports()[1])
    assert "service_only" not in shaped and "internal_note" not in shaped["alerts"]["items"][0]
    assert shaped["from"] == "2025-11-23" and "from_" not in shaped


def test_search_results_are_shaped_as_marshmallow_dumps_them() -> None:
    schema = PatientSearchResultSchema()
    found = {"search_id": "5b0d6f0e-1111-4000-8000-000000000000", "outcome": "one",
             "persons": [{"person_id": "5b0d6f0e-2222-4000-8000-000000000000",
                          "names": ["DOE, JANE"], "birth_dates": ["1948-05-12"], "genders": [],
                          "addresses": [], "dispensations": 3, "first_filled": None,
                          "score": 0.97}]}  # fmt: skip
    assert shaper(schema)(found) == schema.dump(found)


class Dated(Schema):
    day = fields.Date()


def test_a_schema_with_a_field_to_format_is_left_to_marshmallow() -> None:
    assert shaper(Dated())({"day": date(2026, 12, 7)}) == {"day": "2026-12-07"}
