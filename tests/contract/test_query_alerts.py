"""The alerts section of the Patient History Report, projected from a real alerts event
store on SQLite and on PostgreSQL: what stands, what one user snoozed, and silence that is
not passed off as "no alerts"."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from pmp.envelope import Metadata, NewEvent
from pmp.eventstore import EventStore
from pmp.projector import Projector
from pmp.sources import StoreSource
from services.alerts.policy import AlertPolicy
from services.alerts.schemas import alerts_events
from services.query.alerts import PatientAlerts, report_alerts

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
TODAY = date(2026, 11, 22)
FIRST = date(2025, 11, 23)  # a 12-month look-back
PERSON = str(uuid.uuid4())


@pytest.fixture
def setting(database):
    alerts = EventStore(database, alerts_events())
    alerts.create_tables()
    projector = Projector(database, PatientAlerts(), {"alerts": StoreSource(alerts)})
    projector.create_tables()
    return alerts, projector


def append(store: EventStore, kind: str, data: dict) -> None:
    store.append("alerts", None, [NewEvent(kind, data, Metadata(T0))])


def raised(rule: str, level: str, start: str, end: str, person: str = PERSON) -> dict:
    return {
        "alert_id": str(uuid.uuid4()),
        "person_id": person,
        "rule": rule,
        "title": rule,
        "level": level,
        "start": start,
        "end": end,
        "summary": f"{rule} evidence",
        "numbers": {},
        "dispensation_ids": ["d1"],
    }


def section(projector: Projector, account: str = "me") -> dict:
    projector.catch_up()
    with projector.db.read() as conn:
        return report_alerts(conn, [PERSON], account, FIRST, TODAY)


def test_before_the_first_policy_arrives_the_engine_is_not_connected(setting) -> None:
    alerts, projector = setting
    assert section(projector)["engine"] == "not connected"
    append(alerts, "AlertPolicyChanged", {"policy": AlertPolicy().to_json()})
    found = section(projector)
    assert found["engine"] == "connected" and found["items"] == []
    assert found["policy"]["mme_alert"] == 90


def test_alerts_lead_ongoing_first_and_old_episodes_fall_out_of_the_look_back(setting) -> None:
    alerts, projector = setting
    append(alerts, "AlertPolicyChanged", {"policy": AlertPolicy().to_json()})
    caution = raised("daily_mme", "caution", "2026-10-01", "2026-12-01")
    ended = raised("opioid_benzodiazepine", "alert", "2026-03-01", "2026-03-05")
    ongoing = raised("multiple_providers", "alert", "2026-09-01", "2026-11-30")
    too_old = raised("long_term_opioid", "caution", "2024-01-01", "2025-11-22")
    someone_else = raised("daily_mme", "alert", "2026-10-01", "2026-12-01", str(uuid.uuid4()))
    for data in (caution, ended, ongoing, too_old, someone_else):
        append(alerts, "AlertRaised", data)
    items = section(projector)["items"]
    assert [a["rule"] for a in items] == [
        "multiple_providers",
        "opioid_benzodiazepine",
        "daily_mme",
    ]
    assert [a["ongoing"] for a in items] == [True, False, True]
    append(
        alerts,
        "AlertCleared",
        {"alert_id": ongoing["alert_id"], "person_id": PERSON, "rule": "multiple_providers"},
    )
    assert [a["rule"] for a in section(projector)["items"]] == [
        "opioid_benzodiazepine",
        "daily_mme",
    ]


def test_a_snooze_sets_an_alert_aside_for_its_user_only_until_its_date(setting) -> None:
    alerts, projector = setting
    append(alerts, "AlertPolicyChanged", {"policy": AlertPolicy().to_json()})
    alert = raised("daily_mme", "alert", "2026-10-01", "2026-12-01")
    append(alerts, "AlertRaised", alert)
    append(
        alerts,
        "AlertAcknowledged",
        {
            "alert_id": alert["alert_id"],
            "person_id": PERSON,
            "account_id": "me",
            "reason": "Hospice care",
            "snooze_months": 1,
            "until": "2026-12-22",
        },
    )
    mine = section(projector, "me")
    assert mine["items"] == [] and mine["snoozed"][0]["snoozed"] == {
        "reason": "Hospice care",
        "until": "2026-12-22",
    }
    assert [a["rule"] for a in section(projector, "colleague")["items"]] == ["daily_mme"]
    append(
        alerts,
        "AlertAcknowledged",
        {
            "alert_id": alert["alert_id"],
            "person_id": PERSON,
            "account_id": "me",
            "reason": "Hospice care",
            "snooze_months": 1,
            "until": "2026-11-21",
        },
    )
    assert [a["rule"] for a in section(projector, "me")["items"]] == ["daily_mme"], "expired"
