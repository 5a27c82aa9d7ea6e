"""The alerts service's watch, on SQLite and on PostgreSQL: a real submissions event store as
its source, its own store for the alerts it raises, and the projector that runs it."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmp import setaside
from pmp.db import Database, open_postgresql, open_sqlite
from pmp.envelope import Metadata, NewEvent
from pmp.eventstore import EventStore
from pmp.projector import Projector
from pmp.sources import StoreSource
from services.alerts.held import HeldMedications
from services.alerts.policy import AlertPolicy
from services.alerts.rules import evaluate
from services.alerts.schemas import alerts_events
from services.alerts.watch import (
    NAMESPACE,
    AlertWatch,
    _fingerprint,
    _medication,
    medications,
    standing,
)
from services.submissions.schemas import submissions_events

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
DAY0 = date(2026, 6, 1)
OXYCODONE = {
    "drug": "Oxycodone SA",
    "drug_class": "opioid",
    "name": "OXYCODONE HCL",
    "strength_per_unit": "10",
    "unit": "MG",
    "mme_factor": "1.5",
    "form": "Tablet",
}
ALPRAZOLAM = {
    "drug": "Alprazolam",
    "drug_class": "benzodiazepine",
    "name": "ALPRAZOLAM",
    "strength_per_unit": "1",
    "unit": "MG",
    "mme_factor": None,
    "form": "Tablet",
}


@pytest.fixture
def source_db(backend: str, tmp_path, postgres_url, schema_prefix) -> Iterator[Database]:
    db = (
        open_sqlite(tmp_path / "submissions.sqlite")
        if backend == "sqlite"
        else open_postgresql(postgres_url, schema_prefix + "submissions")
    )
    yield db
    db.dispose()


class World:
    """The submissions store the watch reads, and the watch with its own store."""

    def __init__(self, source_db: Database, database: Database, watch: AlertWatch | None = None):
        self.submissions = EventStore(source_db, submissions_events())
        self.submissions.create_tables()
        self.alerts = EventStore(database, alerts_events())
        self.alerts.create_tables()
        sources = {
            "submissions": StoreSource(self.submissions),
            "alerts": StoreSource(self.alerts, AlertWatch.own_streams),
        }
        self.watch = watch or AlertWatch()
        self.projector = Projector(database, self.watch, sources)
        self.projector.create_tables()

    def submit(self, kind: str, data: dict) -> None:
        self.submissions.append(f"s-{uuid.uuid4()}", 0, [NewEvent(kind, data, Metadata(T0))])
        self.projector.catch_up()

    def record(self, *records: dict) -> None:
        self.submit(
            "DispensationsRecorded", {"submission_id": str(uuid.uuid4()), "records": list(records)}
        )

    def void(self, dispensation_id: str) -> None:
        self.submit(
            "DispensationVoided",
            {"dispensation_id": dispensation_id, "submission_id": str(uuid.uuid4())},
        )

    def change_policy(self, policy: AlertPolicy) -> None:
        self.alerts.append(
            "alert-policy",
            None,
            [NewEvent("AlertPolicyChanged", {"policy": policy.to_json()}, Metadata(T0))],
        )
        self.projector.catch_up()

    def raised(self) -> list[tuple[str, str, str]]:
        """(type, rule, level) of every alert event, oldest first."""
        return [
            (e.type, e.data["rule"], e.data.get("level", ""))
            for e in self.alerts.read_all(0, 10_000)
            if e.type.startswith("Alert") and e.type != "AlertPolicyChanged"
        ]

    def standing(self, person: str) -> set[tuple[str, str]]:
        with self.projector.db.read() as conn:
            rows = conn.execute(
                sa.select(standing.c.alert_id, standing.c.fingerprint).where(
                    standing.c.person_id == uuid.UUID(person)
                )
            )
            return {(str(r.alert_id), r.fingerprint) for r in rows}


@pytest.fixture
def world(source_db: Database, database: Database) -> World:
    return World(source_db, database)


def record(
    person: str,
    day: int,
    drug: dict,
    *,
    quantity: str = "120",
    days: int = 30,
    prescriber: str = "AB1234563",
    pharmacy: str = "1234567",
    patient_record: int = 1,
) -> dict:
    return {
        "dispensation_id": str(uuid.uuid4()),
        "person_id": person,
        "patient_record": patient_record,
        "dispensation": {
            "date_filled": (DAY0 + timedelta(days=day)).isoformat(),
            "quantity": quantity,
            "days_supply": days,
        },
        "drug": drug,
        "prescriber": {"dea": prescriber},
        "pharmacy": {"ncpdp": pharmacy},
    }


def test_an_alert_is_raised_updated_and_cleared_as_dispensations_come_and_go(world) -> None:
    person = str(uuid.uuid4())
    world.record(record(person, 0, OXYCODONE))  # 60 MME/day: caution
    assert world.raised() == [("AlertRaised", "daily_mme", "caution")]
    second = record(person, 10, OXYCODONE, quantity="60")  # +30 from day 10: 90, an alert
    world.record(second)
    assert world.raised()[-1] == ("AlertRaised", "daily_mme", "alert")
    world.void(second["dispensation_id"])
    assert world.raised()[-1] == ("AlertRaised", "daily_mme", "caution")
    benzo = record(person, 29, ALPRAZOLAM)
    world.record(benzo)
    assert world.raised()[-1] == ("AlertRaised", "opioid_benzodiazepine", "alert")
    world.void(benzo["dispensation_id"])
    assert world.raised()[-1] == ("AlertCleared", "opioid_benzodiazepine", "")
    causes = [e.metadata.causation_id for e in world.alerts.read_all(0, 100)]
    assert all(causes), "each alert event names the submissions event that caused it"


fills = st.builds(
    lambda day, drug, quantity, prescriber, pharmacy: dict(
        day=day, drug=drug, quantity=str(quantity), prescriber=f"AB{prescriber}",
        pharmacy=f"{pharmacy}",
    ),
    st.integers(0, 150), st.sampled_from([OXYCODONE, ALPRAZOLAM]),
    st.sampled_from([30, 60, 120, 180, 240]), st.integers(1, 6), st.integers(1, 6),
)  # fmt: skip


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # each example: a new person
)
@given(history=st.lists(fills, min_size=1, max_size=8), added=fills)
def test_voiding_a_dispensation_restores_the_alerts_before_it(world, history, added) -> None:
    person = str(uuid.uuid4())
    world.record(*[fill(person, given) for given in history])
    before = world.standing(person)
    extra = fill(person, added)
    world.record(extra)
    world.void(extra["dispensation_id"])
    assert world.standing(person) == before


def fill(person: str, given: dict) -> dict:
    return record(
        person,
        given["day"],
        given["drug"],
        quantity=given["quantity"],
        prescriber=given["prescriber"],
        pharmacy=given["pharmacy"],
    )


def test_a_new_policy_evaluates_everyone_again(world) -> None:
    person = str(uuid.uuid4())
    world.record(record(person, 0, OXYCODONE, quantity="180"))  # 90 MME/day
    assert world.raised() == [("AlertRaised", "daily_mme", "alert")]
    world.change_policy(AlertPolicy(mme_alert=100, mme_caution=95))
    assert world.raised()[-1] == ("AlertCleared", "daily_mme", "")
    world.change_policy(AlertPolicy(mme_alert=100, mme_caution=80))
    assert world.raised()[-1] == ("AlertRaised", "daily_mme", "caution")


def test_a_merge_evaluates_the_two_records_as_one_person(world) -> None:
    kept, merged = str(uuid.uuid4()), str(uuid.uuid4())
    world.record(
        record(kept, 0, OXYCODONE, patient_record=1),
        record(merged, 5, ALPRAZOLAM, patient_record=2),
    )
    assert world.raised() == [("AlertRaised", "daily_mme", "caution")]
    world.submit(
        "PatientsMerged", {"person_id": kept, "merged_person_id": merged, "patient_record": 2}
    )
    assert world.raised()[-1] == ("AlertRaised", "opioid_benzodiazepine", "alert")
    world.submit("PatientSplit", {"person_id": kept, "new_person_id": merged, "patient_record": 2})
    assert world.raised()[-1] == ("AlertCleared", "opioid_benzodiazepine", "")


class CrashingWatch(AlertWatch):
    """Crashes once when told to: after evaluating a batch, before its checkpoint commits."""

    crash_next = False

    def end_batch(self, conn, source: str, last_position: int) -> None:
        super().end_batch(conn, source, last_position)
        if self.crash_next and source == "submissions":
            self.crash_next = False
            raise RuntimeError("the process died before the commit")


def test_a_batch_rolled_back_after_its_evaluation_is_counted_once_on_retry(
    source_db, database
) -> None:
    watch = CrashingWatch()
    world = World(source_db, database, watch)
    person = str(uuid.uuid4())
    world.record(record(person, 0, OXYCODONE))  # 60 MME/day: remembered by the watch
    watch.crash_next = True
    data = {
        "submission_id": str(uuid.uuid4()),
        "records": [record(person, 0, OXYCODONE, quantity="60")],
    }
    world.submissions.append("s-crash", 0, [NewEvent("DispensationsRecorded", data, Metadata(T0))])
    # The batch rolls back and its event is applied again alone: its +30 counts once.
    world.projector.catch_up()
    with database.read() as conn:
        finding = conn.scalar(sa.select(standing.c.finding).where(standing.c.rule == "daily_mme"))
    assert (finding["level"], finding["numbers"]["peak_mme"]) == ("alert", 90.0)
    assert world.raised() == [
        ("AlertRaised", "daily_mme", "caution"),
        ("AlertRaised", "daily_mme", "alert"),
    ]
    with database.read() as conn:
        assert setaside.listed(conn) == []


def test_a_bad_event_in_a_batch_leaves_the_memory_as_the_rows_are(source_db, database) -> None:
    """A batch holding a remembered person's new fill and an event the watch cannot apply
    (fills on 9999-12-31) rolls back; the fill counts once, the bad event is set aside."""
    world = World(source_db, database)
    person, other = str(uuid.uuid4()), str(uuid.uuid4())
    world.record(record(person, 0, OXYCODONE))  # 60 MME/day: remembered by the watch
    far = [record(other, 0, OXYCODONE) for _ in range(2)]
    for bad in far:
        bad["dispensation"]["date_filled"] = "9999-12-31"
    batch = [
        {
            "submission_id": str(uuid.uuid4()),
            "records": [record(person, 0, OXYCODONE, quantity="60")],
        },
        {"submission_id": str(uuid.uuid4()), "records": far},
    ]
    for n, data in enumerate(batch):
        event = NewEvent("DispensationsRecorded", data, Metadata(T0))
        world.submissions.append(f"s-batch-{n}", 0, [event])
    world.projector.catch_up()
    with database.read() as conn:
        finding = conn.scalar(sa.select(standing.c.finding).where(standing.c.rule == "daily_mme"))
        [aside] = setaside.listed(conn, "alerts.watch")
        rows = conn.scalar(
            sa.select(sa.func.count()).where(medications.c.person_id == uuid.UUID(person))
        )
    assert (finding["level"], finding["numbers"]["peak_mme"]) == ("alert", 90.0)
    assert aside.error.startswith("OverflowError: date value out of range")
    assert rows == 2
    held = world.watch.held.get(uuid.UUID(person))  # forgotten (read back), or as the rows
    assert held is None or len(held) == rows, "the rolled-back batch left its trace"
    world.record(record(person, 0, OXYCODONE, quantity="60"))  # +30 more: 120
    with database.read() as conn:
        finding = conn.scalar(sa.select(standing.c.finding).where(standing.c.rule == "daily_mme"))
    assert finding["numbers"]["peak_mme"] == 120.0
    assert len(world.watch.held.get(uuid.UUID(person)) or []) == 3


def test_alerts_from_what_the_watch_remembers_match_its_stored_rows(source_db, database) -> None:
    """Persons come and go from a small memory over many batches; every standing alert is
    what evaluating the person's stored rows gives."""
    watch = AlertWatch()
    watch.held = HeldMedications(limit=12)
    world = World(source_db, database, watch)
    pick = random.Random(11)
    people = [str(uuid.uuid4()) for _ in range(8)]
    given: list[dict] = []
    for _ in range(15):
        batch = [
            record(
                pick.choice(people),
                pick.randint(0, 150),
                pick.choice([OXYCODONE, OXYCODONE, ALPRAZOLAM]),
                quantity=str(pick.choice([30, 60, 120, 180])),
                prescriber=f"AB{pick.randint(1, 7)}",
                pharmacy=f"{pick.randint(1, 7)}",
            )
            for _ in range(pick.randint(1, 6))
        ]
        world.record(*batch)
        given += batch
        if pick.random() < 0.4:
            world.void(given.pop(pick.randrange(len(given)))["dispensation_id"])
    policy = AlertPolicy()
    raised_somewhere = False
    for person in people:
        with database.read() as conn:
            rows = conn.execute(
                sa.select(medications).where(medications.c.person_id == uuid.UUID(person))
            ).mappings()
            expected = {
                (
                    str(uuid.uuid5(NAMESPACE, f"{person}|{f.rule}|{f.start}")),
                    _fingerprint(f.to_json()),
                )
                for f in evaluate([_medication(row) for row in rows], policy)
            }
        assert world.standing(person) == expected
        raised_somewhere |= bool(expected)
    assert raised_somewhere, "the histories raised no alert at all: the test proves nothing"
