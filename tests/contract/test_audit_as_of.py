"""'As of' replay on SQLite and PostgreSQL: a patient's report and a user's registration
rebuilt from the audit trail show what stood at the chosen moment, and nothing after it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from pmp.envelope import Metadata, RecordedEvent
from services.alerts.policy import AlertPolicy
from services.audit import trail
from services.audit.as_of import registration_as_of, report_as_of
from tests.unit.test_patient_history_projection import entry

T0 = datetime(2026, 10, 2, 14, tzinfo=UTC)
BRYAN, MERGED, STRANGER = (str(uuid.uuid4()) for _ in range(3))
VIEWER = "u-viewer"
ALERT = str(uuid.uuid4())


@pytest.fixture
def db(database):
    database.create(trail.metadata)
    return database


class Sources:
    """Each service's events, numbered in its own order, chained into the trail."""

    def __init__(self, db) -> None:
        self.db, self.positions = db, {}

    def __call__(self, source: str, at: datetime, kind: str, data: dict, stream: str = "s"):
        position = self.positions[source] = self.positions.get(source, 0) + 1
        event = RecordedEvent(uuid.uuid4(), stream, position, position, kind, data, 1,
                              Metadata(occurred_at=at, actor_id="someone"))  # fmt: skip
        with self.db.write() as conn:
            trail.append(conn, source, [event])


def raised(at_end: str) -> dict:
    return {
        "alert_id": ALERT, "person_id": BRYAN, "rule": "daily_mme", "title": "High daily MME",
        "level": "alert", "start": "2026-10-01", "end": at_end, "summary": "120 MME/day",
        "numbers": {"peak": 120}, "dispensation_ids": ["d1"],
    }  # fmt: skip


@pytest.fixture
def history(db) -> Sources:
    """Bryan's story: a fill and an alert; a second person's fill merged into his; the
    first fill voided and the alert cleared; a stranger's fill all along."""
    add = Sources(db)
    recorded = {"submission_id": "s1", "records": [entry("d1", BRYAN), entry("d9", STRANGER, 9)]}
    add("submissions", T0, "DispensationsRecorded", recorded)
    add("alerts", T0, "AlertPolicyChanged", {"policy": AlertPolicy().to_json()})
    add("alerts", T0 + timedelta(minutes=5), "AlertRaised", raised("2026-10-30"))
    second = {"submission_id": "s2", "records": [entry("d2", MERGED, 2, filled="2026-10-20")]}
    add("submissions", T0 + timedelta(days=20), "DispensationsRecorded", second)
    merge = {"patient_record": 2, "person_id": BRYAN, "merged_person_id": MERGED}
    add("submissions", T0 + timedelta(days=21), "PatientsMerged", merge)
    add("submissions", T0 + timedelta(days=22), "DispensationVoided",
        {"dispensation_id": "d1", "submission_id": "s1"})  # fmt: skip
    cleared = {"alert_id": ALERT, "person_id": BRYAN, "rule": "daily_mme"}
    add("alerts", T0 + timedelta(days=22), "AlertCleared", cleared)
    return add


def seen(db, at: datetime) -> dict:
    with db.read() as conn:
        return report_as_of(conn, [BRYAN], VIEWER, at, at.date(), months=12)


def filled(report: dict) -> list[str]:
    return [line["filled"] for line in report["dispensations"]]


def test_a_report_as_of_a_day_shows_what_stood_then_and_nothing_after(db, history) -> None:
    first = seen(db, T0 + timedelta(hours=1))
    assert filled(first) == ["2026-10-01"]
    assert [a["title"] for a in first["alerts"]["items"]] == ["High daily MME"]
    assert first["patients"][0]["addresses"] == ["3085 Highland Ave, North Olmsted, OH 44032"]
    merged = seen(db, T0 + timedelta(days=21, hours=1))
    assert filled(merged) == ["2026-10-20", "2026-10-01"]
    assert merged["alerts"]["items"]
    after = seen(db, T0 + timedelta(days=23))
    assert filled(after) == ["2026-10-20"]
    assert after["alerts"]["items"] == [] and after["alerts"]["engine"] == "connected"


def test_before_the_first_fact_the_report_is_empty_and_alerts_not_evaluated(db, history) -> None:
    before = seen(db, T0 - timedelta(minutes=1))
    assert [p["names"] for p in before["patients"]] == [[]]  # not known by then
    assert before["dispensations"] == []
    assert before["alerts"]["engine"] == "not connected"


def test_a_merge_joins_records_from_before_it_however_many_steps_apart(db, history) -> None:
    """A third person merged into the one already merged into Bryan: all three are his."""
    third = str(uuid.uuid4())
    later = T0 + timedelta(days=24)
    history(
        "submissions",
        later,
        "DispensationsRecorded",
        {"submission_id": "s3", "records": [entry("d3", third, 3, filled="2026-10-25")]},
    )
    history("submissions", later, "PatientsMerged",
            {"patient_record": 3, "person_id": MERGED, "merged_person_id": third})  # fmt: skip
    history("submissions", later, "PatientsMerged",
            {"patient_record": 3, "person_id": BRYAN, "merged_person_id": MERGED})  # fmt: skip
    assert filled(seen(db, later + timedelta(hours=1))) == ["2026-10-25", "2026-10-20"]


def test_a_registration_as_of_a_moment_is_the_application_as_it_stood(db) -> None:
    add = Sources(db)
    stream = "registration-u-7"
    started = {"email": "ann@example.org", "role": "prescriber"}
    add("registration", T0, "ApplicationStarted", started, stream)
    add("registration", T0, "ApplicationStarted", {**started, "email": "x@y.z"}, "registration-u-8")
    form = {"form": {"first_name": "Ann", "last_name": "Lee"}, "supervisor": None}
    add("registration", T0 + timedelta(hours=1), "FormSaved", form, stream)
    add("registration", T0 + timedelta(hours=2), "ApplicationSubmitted", {}, stream)
    add("registration", T0 + timedelta(days=1), "ApplicationApproved",
        {"role": "prescriber", "renewal_due": "2028-10-03"}, stream)  # fmt: skip
    with db.read() as conn:
        nothing = registration_as_of(conn, "u-7", T0 - timedelta(seconds=1))
        draft = registration_as_of(conn, "u-7", T0 + timedelta(minutes=90))
        submitted = registration_as_of(conn, "u-7", T0 + timedelta(hours=2))
        approved = registration_as_of(conn, "u-7", T0 + timedelta(days=2))
    assert nothing is None
    assert (draft["status"], draft["email"], draft["form"]["last_name"]) == (
        "draft", "ann@example.org", "Lee")  # fmt: skip
    assert submitted["status"] == "submitted" and submitted["approved_at"] is None
    assert approved["status"] == "approved" and approved["renewal_due"] == "2028-10-03"
    assert date.fromisoformat(approved["approved_at"][:10]) == (T0 + timedelta(days=1)).date()
