"""The patient history read model follows the submissions service's events: recorded,
revised and voided dispensations, and the administrators' merges and splits."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from pmp.db import open_sqlite
from pmp.envelope import Metadata, RecordedEvent
from services.query import lookups
from services.query.history import PatientHistory, dispensations, metadata

BRYAN, OTHER = str(uuid.uuid4()), str(uuid.uuid4())
OXYCODONE = {"name": "OXYCODONE HCL", "drug": "Oxycodone SA", "drug_class": "opioid",
             "schedule": 2, "strength_per_unit": "10", "unit": "MG", "mme_factor": "1.5",
             "form": "Tablet"}  # fmt: skip


def entry(number: str, person: str = BRYAN, record: int = 1, **given) -> dict:
    return {
        "dispensation_id": number, "person_id": person, "link": "deterministic",
        "patient_record": record, "line": 3,
        "pharmacy": {"name": "FOWLER PHARMACY", "ncpdp": "3631544"},
        "patient": {"first_name": "Bryan", "last_name": "Love", "birth_date": "1948-05-12",
                    "gender": "M", "address_1": "3085 Highland Ave", "city": "North Olmsted",
                    "state": "OH", "zip": "44032"},
        "dispensation": {"date_filled": given.get("filled", "2026-10-01"),
                         "date_written": "2026-09-30", "ndc": "00406055262",
                         "quantity": given.get("quantity", "120"), "days_supply": 30,
                         "refill_number": 0, "payment_type": "04"},
        "prescriber": {"last_name": "MIRANDA", "first_name": "TINA", "dea": "FM2326862"},
        "drug": given.get("drug", OXYCODONE),
    }  # fmt: skip


class Feed:
    def __init__(self, path: Path):
        self.db = open_sqlite(path)
        self.db.create(metadata)
        self.projection = PatientHistory()
        self.position = 0

    def __call__(self, kind: str, data: dict) -> None:
        self.position += 1
        event = RecordedEvent(uuid.uuid4(), "s", 1, self.position, kind, data, 1,
                              Metadata(occurred_at=datetime.now(UTC)))  # fmt: skip
        with self.db.write() as conn:
            self.projection.apply(conn, "submissions", event)

    def rows(self, person: str) -> list[dict]:
        with self.db.read() as conn:
            return lookups.history(conn, [person], date(2000, 1, 1))


@pytest.fixture
def feed(tmp_path: Path) -> Feed:
    return Feed(tmp_path / "query.sqlite")


def test_a_recorded_dispensation_is_shown_as_a_report_reads_it(feed: Feed) -> None:
    feed("DispensationsRecorded", {"submission_id": "s", "records": [entry("d1")]})
    (row,) = feed.rows(BRYAN)
    assert row["drug"] == "OXYCODONE HCL" and row["strength"] == "10 MG"
    assert row["mme_per_day"] == 60.0  # 10 mg x (120 / 30) x 1.5, the CDC example
    assert row["prescriber"] == "MIRANDA, TINA (DEA FM2326862)"
    assert row["pharmacy"] == "FOWLER PHARMACY (NCPDP 3631544)"
    assert row["payment"] == "Commercial insurance"
    with feed.db.read() as conn:
        (person,) = lookups.persons(conn, [BRYAN])
    assert person["names"] == ["LOVE, BRYAN"] and person["dispensations"] == 1
    assert person["addresses"] == ["3085 Highland Ave, North Olmsted, OH 44032"]


def test_an_unknown_ndc_is_kept_and_named_as_such(feed: Feed) -> None:
    feed("DispensationsRecorded", {"submission_id": "s", "records": [entry("d1", drug=None)]})
    (row,) = feed.rows(BRYAN)
    assert row["drug"] == "Unknown NDC 00406055262" and row["mme_per_day"] is None


def test_a_revision_replaces_the_record_and_a_void_removes_it_from_reports(feed: Feed) -> None:
    feed("DispensationsRecorded", {"submission_id": "s", "records": [entry("d1"), entry("d2")]})
    feed("DispensationRevised", {"dispensation_id": "d1", "submission_id": "s2",
                                 "record": entry("d1", quantity="60")})  # fmt: skip
    feed("DispensationVoided", {"dispensation_id": "d2", "submission_id": "s3"})
    (row,) = feed.rows(BRYAN)
    assert (row["dispensation_id"], row["quantity"], row["mme_per_day"]) == ("d1", "60", 30.0)


def test_merges_and_splits_move_records_between_persons(feed: Feed) -> None:
    feed("DispensationsRecorded", {"submission_id": "s", "records": [
        entry("d1"), entry("d2", person=OTHER, record=2)]})  # fmt: skip
    feed("PatientsMerged", {"patient_record": 2, "person_id": BRYAN, "merged_person_id": OTHER})
    assert {r["dispensation_id"] for r in feed.rows(BRYAN)} == {"d1", "d2"}
    new = str(uuid.uuid4())
    feed("PatientSplit", {"patient_record": 2, "person_id": BRYAN, "new_person_id": new})
    assert [r["dispensation_id"] for r in feed.rows(new)] == ["d2"]
    with feed.db.read() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(dispensations)) == 2
