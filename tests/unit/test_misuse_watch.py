"""The misuse watch as the audit service runs it: the projector feeds it identity,
registration, submissions and query events (here from lists in memory), and it appends
``MisuseSignalRaised`` to the audit store (SQLite) with its checkpoint: once per user and
patient in the quiet period, never twice on a replay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pmp.db import Database, open_sqlite
from pmp.envelope import Metadata, RecordedEvent, uuid7
from pmp.eventstore import EventStore
from pmp.projector import Projector
from pmp.sources import StoreSource
from services.audit.misuse import SIGNALS_STREAM, MisuseWatch, SignalsRefused, signals_page
from services.audit.schemas import audit_events
from services.audit.signals import MisusePolicy

ZONE = ZoneInfo("America/New_York")
T0 = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # 10:00 in Hartford
JANE = str(uuid.uuid4())  # a prescriber
SAM = str(uuid.uuid4())  # a delegate working for Jane
LOU = str(uuid.uuid4())  # a law enforcement officer
PAT, KIN = str(uuid.uuid4()), str(uuid.uuid4())  # patients
JANE_DEA = "AB1234563"


class ListSource:
    """Another service's events, in position order, as ``read_events`` would give them."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []

    def add(self, kind: str, data: dict, stream: str, at: datetime = T0) -> RecordedEvent:
        meta = Metadata(occurred_at=at, correlation_id=f"c-{uuid.uuid4()}")
        event = RecordedEvent(uuid7(), stream, 1, len(self.events) + 1, kind, data, 1, meta)
        self.events.append(event)
        return event

    def read(self, after_position: int, limit: int) -> list[RecordedEvent]:
        return [e for e in self.events if e.position > after_position][:limit]


class World:
    def __init__(self, db: Database, policy: MisusePolicy | None = None):
        self.db = db
        self.store = EventStore(self.db, audit_events())
        self.store.create_tables()
        self.identity, self.registration = ListSource(), ListSource()
        self.submissions, self.query = ListSource(), ListSource()
        sources = {"identity": self.identity, "registration": self.registration,
                   "submissions": self.submissions, "query": self.query,
                   "audit": StoreSource(self.store, MisuseWatch.own_streams)}  # fmt: skip
        self.names: dict[str, tuple[str, str]] = {}
        self.watch = MisuseWatch(policy or MisusePolicy(), ZONE)
        self.projector = Projector(self.db, self.watch, sources, batch_size=7)
        self.projector.create_tables()
        self.user(JANE, "Jane", "Doe", "prescriber")
        self.register(JANE, dea_number=JANE_DEA)
        self.user(SAM, "Sam", "Roe", "delegate")
        self.user(LOU, "Lou", "Poe", "law_enforcement")

    def user(self, account: str, first: str, last: str, role: str) -> None:
        self.names[account] = (f"{first} {last}", role)
        self.identity.add("AccountCreated", {
            "account_id": account, "email": f"{first}@example.org", "first_name": first,
            "last_name": last, "role": role,
            "address_lines": ["1 Elm Street", "Hartford, CT 06106"],
        }, f"account-{account}")  # fmt: skip

    def register(self, account: str, **form: str) -> None:
        self.registration.add("FormSaved", {"form": {
            "address_line1": "165 Capitol Avenue", "city": "Hartford", "state": "CT",
            "zip": "06106", **form}}, f"registration-{account}")  # fmt: skip

    def dispense(self, person: str, *, dea: str = "FM2326862", street: str = "9 Oak Road",
                 last: str = "Love") -> str:  # fmt: skip
        number, record = str(uuid.uuid4()), len(self.submissions.events) + 1
        self.submissions.add("DispensationsRecorded", {"submission_id": str(uuid.uuid4()),
            "records": [{"dispensation_id": number, "person_id": person, "patient_record": record,
                         "pharmacy": {"name": "FOWLER PHARMACY", "ncpdp": "3631544"},
                         "patient": {"first_name": "Bryan", "last_name": last,
                                     "address_1": street, "city": "Hartford", "zip": "06106"},
                         "dispensation": {"date_filled": "2026-10-01"},
                         "prescriber": {"last_name": "MIRANDA", "dea": dea}}]},
            f"submission-{uuid.uuid4()}")  # fmt: skip
        return number

    def search(self, who: str, persons=(PAT,), at: datetime = T0, last: str = "Love",
               on_behalf_of: str | None = None) -> str:  # fmt: skip
        names = self.names
        search_id = str(uuid.uuid4())
        boss = {"account_id": JANE, "name": "Jane Doe", "role": "prescriber"}
        self.query.add("PatientSearched", {
            "search_id": search_id,
            "requester": {"account_id": who, "name": names[who][0], "role": names[who][1]},
            "on_behalf_of": boss if on_behalf_of else None, "purpose": {"kind": "treating"},
            "person_ids": list(persons),
            "criteria": {"first_name": "Bryan", "last_name": last, "birth_date": "1948-05-12"},
        }, f"search-{search_id}", at)  # fmt: skip
        return search_id

    def signals(self) -> list[dict]:
        self.projector.catch_up()
        return [e.data for e in self.store.read_stream(SIGNALS_STREAM)]

    def kinds(self) -> list[tuple[str, str, str | None]]:
        return [(s["kind"], s["account_id"], s["person_id"]) for s in self.signals()]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(open_sqlite(tmp_path / "audit.sqlite"))


def test_a_search_for_the_searcher_s_surname_is_signalled_with_its_evidence(world) -> None:
    searched = world.search(JANE, persons=(), last="DOE")
    (signal,) = world.signals()
    assert signal["kind"] == "surname" and signal["account_id"] == JANE
    assert signal["person_id"] is None and signal["search_ids"] == [searched]
    assert signal["searcher"] == {"name": "Jane Doe", "role": "prescriber"}
    assert signal["evidence"]["text"] == "Jane Doe searched for the surname DOE, their own."
    assert signal["raised_at"] == T0.isoformat()
    (event,) = world.store.read_stream(SIGNALS_STREAM)
    assert event.metadata.causation_id == str(world.query.events[-1].event_id)
    assert event.metadata.correlation_id == world.query.events[-1].metadata.correlation_id


def test_a_patient_reported_under_the_searcher_s_surname_is_signalled(world) -> None:
    world.dispense(KIN, last="Doe")
    world.search(LOU, persons=(KIN,), last="Dough")
    world.search(JANE, persons=(KIN,), last="Dough")
    assert world.kinds() == [("surname", JANE, KIN)]


def test_a_patient_at_the_searcher_s_registered_work_address_is_signalled(world) -> None:
    world.dispense(KIN, street="165 CAPITOL AVE")
    world.dispense(PAT, street="1 Elm Street")  # identity's address: the registration's wins
    world.search(JANE, persons=(PAT,))
    world.search(JANE, persons=(KIN,))
    assert world.kinds() == [("address", JANE, KIN)]
    world.search(LOU, persons=(PAT,), at=T0 + timedelta(minutes=1))  # Lou has no registration
    assert world.kinds()[-1] == ("address", LOU, PAT)


def test_one_signal_per_kind_user_and_patient_in_thirty_days(world) -> None:
    for minutes in (0, 60, 60 * 24 * 29):
        world.search(JANE, persons=(PAT,), last="Doe", at=T0 + timedelta(minutes=minutes))
    world.search(JANE, persons=(KIN,), last="Doe", at=T0 + timedelta(days=1))
    assert world.kinds() == [("surname", JANE, PAT), ("surname", JANE, KIN)]
    world.search(JANE, persons=(PAT,), last="Doe", at=T0 + timedelta(days=30))
    assert world.kinds()[-1] == ("surname", JANE, PAT) and len(world.kinds()) == 3


def test_repeated_searches_without_a_dispensation_naming_the_searcher(world) -> None:
    for n in range(3):
        world.search(JANE, persons=(PAT,), at=T0 + timedelta(days=n))
    assert world.kinds() == []
    fourth = world.search(JANE, persons=(PAT,), at=T0 + timedelta(days=3))
    (signal,) = world.signals()
    assert (signal["kind"], signal["person_id"]) == ("repeated", PAT)
    assert len(signal["search_ids"]) == 4 and signal["search_ids"][-1] == fourth
    assert "DEA AB1234563" in signal["evidence"]["text"]


def test_a_dispensation_naming_the_prescriber_explains_repeated_searches(world) -> None:
    world.dispense(PAT, dea="AB 1234563")
    for n in range(5):
        world.search(JANE, persons=(PAT,), at=T0 + timedelta(days=n))
    assert world.kinds() == []


def test_a_delegate_is_linked_through_their_supervisor(world) -> None:
    world.dispense(PAT, dea=JANE_DEA)
    for n in range(4):
        world.search(SAM, persons=(PAT, KIN), at=T0 + timedelta(hours=n), on_behalf_of=JANE)
    assert world.kinds() == [("repeated", SAM, KIN)]


def test_law_enforcement_searching_repeatedly_is_not_signalled(world) -> None:
    for n in range(6):
        world.search(LOU, persons=(PAT,), at=T0 + timedelta(hours=n))
    assert world.kinds() == []


def test_searches_of_two_persons_later_merged_count_together(world) -> None:
    for n in range(2):
        world.search(JANE, persons=(PAT,), at=T0 + timedelta(hours=n))
        world.search(JANE, persons=(KIN,), at=T0 + timedelta(hours=n, minutes=30))
    assert world.kinds() == []
    merged = {"patient_record": 2, "person_id": PAT, "merged_person_id": KIN}
    world.submissions.add("PatientsMerged", merged, "patient-record-2")
    world.search(JANE, persons=(PAT,), at=T0 + timedelta(hours=3))
    assert world.kinds() == [("repeated", JANE, PAT)]


def test_a_day_well_above_the_peers_baseline_is_signalled_once(world) -> None:
    peer = str(uuid.uuid4())
    world.user(peer, "Max", "Ray", "prescriber")
    for n in range(3):  # another prescriber's usual day: 12 searches (36 needed)
        for m in range(12):
            world.search(peer, persons=(), at=T0 - timedelta(days=n + 1, minutes=m))
    for n in range(10):  # a delegate's days do not count: not Jane's peers
        for m in range(20):
            world.search(SAM, persons=(), at=T0 - timedelta(days=n + 1, minutes=m))
    for m in range(35):
        world.search(JANE, persons=(), at=T0 + timedelta(minutes=m))
    assert world.kinds() == []
    world.search(JANE, persons=(), at=T0 + timedelta(minutes=35))
    world.search(JANE, persons=(), at=T0 + timedelta(minutes=36))
    (volume,) = world.signals()
    assert volume["kind"] == "volume" and volume["account_id"] == JANE
    assert len(volume["search_ids"]) == 36
    numbers = volume["evidence"]["numbers"]
    assert (numbers["day"], numbers["own_baseline"], numbers["peer_baseline"]) == (
        "2026-11-10", 0, 12)  # fmt: skip


def test_a_day_at_the_minimum_is_signalled_one_below_it_is_not(world) -> None:
    for m in range(29):
        world.search(JANE, persons=(), at=T0 + timedelta(minutes=m))
    assert world.kinds() == []
    world.search(JANE, persons=(), at=T0 + timedelta(minutes=29))
    assert world.kinds() == [("volume", JANE, None)]


def test_a_search_far_outside_the_user_s_usual_hours_is_signalled(world) -> None:
    for n in range(20):  # 10:00 in Hartford on twenty days (summer time or not)
        day = (T0 - timedelta(days=20 - n)).date()
        at = datetime(day.year, day.month, day.day, 10, tzinfo=ZONE).astimezone(UTC)
        world.search(LOU, persons=(PAT,), at=at)
    world.search(LOU, persons=(KIN,), at=T0 + timedelta(hours=3))  # 13:00: 3 hours after 10:00
    assert world.kinds() == [("hour", LOU, KIN)]
    world.search(LOU, persons=(PAT, KIN), at=T0 + timedelta(hours=2, minutes=59))
    assert len(world.kinds()) == 1


def lou_at_ten(world: World, days_before: int) -> None:
    """Lou searches at 10:00 in Hartford on twenty days, the last ``days_before`` T0."""
    for n in range(20):
        day = (T0 - timedelta(days=days_before + 19 - n)).date()
        at = datetime(day.year, day.month, day.day, 10, tzinfo=ZONE).astimezone(UTC)
        world.search(LOU, persons=(PAT,), at=at)


def test_searches_older_than_the_baseline_period_do_not_make_usual_hours(world) -> None:
    lou_at_ten(world, days_before=91)  # the newest 91 days before: outside the 90
    world.search(LOU, persons=(KIN,), at=T0 + timedelta(hours=6))  # 16:00
    assert world.kinds() == []


def test_a_night_of_searches_is_judged_against_the_days_before_not_against_itself(world) -> None:
    lou_at_ten(world, days_before=1)
    night = T0 - timedelta(hours=8)  # 02:00 in Hartford on T0's day
    persons = [str(uuid.uuid4()) for _ in range(6)]
    for n, person in enumerate(persons):  # before, the third would have widened the band
        world.search(LOU, persons=(person,), at=night + timedelta(minutes=10 * n))
    raised = [s for s in world.signals() if s["kind"] == "hour"]
    assert sorted(s["person_id"] for s in raised) == sorted(persons)
    assert "from 20 searches in the 90 days before" in raised[0]["evidence"]["text"]


def test_a_rebuild_raises_no_signal_twice(world) -> None:
    world.search(JANE, persons=(), last="Doe")
    for n in range(4):
        world.search(JANE, persons=(PAT,), at=T0 + timedelta(days=n))
    before = world.kinds()
    assert len(before) == 2
    world.projector.reset()
    assert world.kinds() == before
    with world.db.read() as conn:
        assert signals_page(conn)["total"] == 2


def test_investigators_page_through_signals_newest_first(world) -> None:
    world.search(JANE, persons=(), last="Doe")
    world.search(LOU, persons=(), last="Poe", at=T0 + timedelta(hours=1))
    world.signals()
    with world.db.read() as conn:
        found = signals_page(conn)
        assert [s["account_id"] for s in found["signals"]] == [LOU, JANE]
        assert found["signals"][0]["searcher"]["role_title"] == "Law enforcement"
        assert found["signals"][0]["kind_title"] == "Patient shares the searcher's surname"
        assert signals_page(conn, account=JANE)["total"] == 1
        assert signals_page(conn, kind="hour")["total"] == 0
        second = signals_page(conn, page=2, page_size=1)
        assert [s["account_id"] for s in second["signals"]] == [JANE]
        for asked, named in (({"kind": "odd"}, "kind"), ({"account": "Jane"}, "account"),
                             ({"page_size": 501}, "page_size"), ({"page": 0}, "page")):  # fmt: skip
            with pytest.raises(SignalsRefused, match=f"^{named}:"):
                signals_page(conn, **asked)
