"""No projection stops on one event (issue 22): every projection the services run, fed an
event it cannot apply and then a good one, applies the good one and lists the bad one as
set aside; on SQLite and on PostgreSQL (the ``database`` fixture).

The projections are enumerated from the services' kernels, and a projection without a row
in ``CASES`` fails the first test, so a new projection cannot be forgotten. Events of the
projection's own service are appended to a real store (the bad one past schema checks, as a
store may hold what an older version let through); other services' events come as their
``read_events`` would give them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from marshmallow import INCLUDE, Schema
from sqlalchemy.engine import Connection

from pmp import setaside
from pmp.config import load_settings
from pmp.db import Database
from pmp.envelope import Metadata, NewEvent
from pmp.eventstore import EventStore
from pmp.inbox import processed_events
from pmp.projector import Projection, Projector
from pmp.reactions import MAX_ATTEMPTS, Reaction, Reactor
from pmp.registry import EventRegistry
from pmp.sources import StoreSource
from pmp.topology import SERVICES
from services.alerts.notices import metadata as notices_metadata
from services.alerts.policy import POLICY_STREAM, AlertPolicy
from services.alerts.watch import medications
from services.alerts.watch import metadata as watch_metadata
from services.audit.misuse_tables import users
from services.audit.trail import entries
from services.helpdesk.projections import tickets
from services.helpdesk.ticket import Ticket
from services.identity.approvals import reset_requests
from services.identity.projections import directory
from services.query.alerts import patient_alerts
from services.query.history import dispensations
from services.query.mm_dispensations import mm_card_facts
from services.query.mm_registry import mm_cards
from services.query.projections import probe_arrivals
from services.query.statistics import report_views
from services.registration.domain import Registration, RegistrationPolicy
from services.registration.projections import applications
from services.submissions.matches import patient_matches
from tests.contract.test_query_alerts import raised
from tests.unit.test_misuse_watch import ListSource
from tests.unit.test_mm_dispensation_links import HOLDER_DETAILS
from tests.unit.test_patient_history_projection import entry

T0 = datetime(2026, 11, 2, 15, tzinfo=UTC)
ACCOUNT = str(uuid.uuid4())
PERSON = str(uuid.uuid4())


def running() -> dict[str, tuple[str, type[Projection]]]:
    """Every projection any service runs: name -> (service, class)."""
    return {
        p.name: (spec.name, p) for spec in SERVICES for p in spec.load().kernel.projection_types
    }


@dataclass
class Case:
    """One projection's bad event, good event (both from ``source``), and a query that
    counts the good one in its read model."""

    source: str
    bad: tuple[str, dict, str]  # type, data, stream
    good: list[tuple[str, dict, str]]  # events (normally one) that together are good
    applied: Callable[[Connection], int] | None = None  # reactions: the handled ids tell
    before: list[tuple[str, dict, str]] = field(default_factory=list)


def count(table: sa.Table, *where) -> Callable[[Connection], int]:
    return lambda conn: conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where))


def opened_ticket(ticket_id: str) -> list[tuple[str, dict, str]]:
    contact = {"name": "Pat Okafor", "email": "pat@example.org", "phone": "860-555-0100"}
    changes = Ticket.open(ticket_id, "Cannot sign in", "Locked out.", contact, account_id=ACCOUNT)
    return [(kind, data, f"ticket-{ticket_id}") for kind, data in changes]


def started_application(account_id: str) -> list[tuple[str, dict, str]]:
    policy = RegistrationPolicy(timezone=ZoneInfo("America/New_York"))
    changes = Registration.fold(account_id, []).start(
        "pat@example.org", "prescriber", str(uuid.uuid4()), T0, policy
    )
    return [(kind, data, f"registration-{account_id}") for kind, data in changes]


TICKET, APPLICANT, PROBE, REQUEST = (str(uuid.uuid4()) for _ in range(4))
CARD = "MM-424242"
RAISED = raised("daily_mme", "alert", "2026-10-01", "2026-10-30", person=PERSON)
FAR_FUTURE = {"filled": "9999-12-31"}  # twice for one person: past the calendar's end
VIEWER = {"account_id": ACCOUNT, "name": "Jane Doe", "role": "prescriber"}

CASES: dict[str, Case] = {
    "identity.directory": Case(
        "identity",
        ("AccountCreated", {"role": "prescriber"}, f"account-{uuid.uuid4()}"),
        [("AccountCreated", {"email": "jane@example.org", "first_name": "Jane",
                             "last_name": "Doe", "role": "prescriber"}, f"account-{ACCOUNT}")],
        count(directory, directory.c.account_id == uuid.UUID(ACCOUNT)),
    ),
    "identity.reset_requests": Case(
        "identity",
        ("CredentialResetRequested", {"action": "unlock"}, f"account-{uuid.uuid4()}"),
        [("CredentialResetRequested", {"request_id": REQUEST, "action": "reset_mfa",
                                       "reason": "lost phone", "requested_by": ACCOUNT,
                                       "expires_at": "2026-11-03T15:00:00+00:00"},
          f"account-{ACCOUNT}")],
        count(reset_requests, reset_requests.c.request_id == uuid.UUID(REQUEST)),
    ),
    "registration.applications": Case(
        "registration",
        ("ApplicationStarted", {"role": "no such role"}, f"registration-{uuid.uuid4()}"),
        started_application(APPLICANT),
        count(applications, applications.c.account_id == uuid.UUID(APPLICANT)),
    ),
    "submissions.patient_matches": Case(
        "submissions",
        ("PatientLinked", {"patient_record": 1}, "patients"),
        [("PatientLinked", {"patient_record": 2, "person_id": PERSON, "kind": "probable",
                            "score": 0.9, "possible": [], "reasons": [],
                            "submission_id": str(uuid.uuid4())}, "patients")],
        count(patient_matches, patient_matches.c.patient_record == 2),
    ),
    "query.probe_arrivals": Case(
        "identity",
        ("ProbeRecorded", {"service": "identity"}, "probe-x"),
        [("ProbeRecorded", {"probe_id": PROBE, "service": "identity"}, f"probe-{PROBE}")],
        count(probe_arrivals, probe_arrivals.c.probe_id == uuid.UUID(PROBE)),
    ),
    "query.mm_cards": Case(
        "query",
        ("CardRegistered", {"first_name": "Robert"}, "card-MM-1"),
        [("CardRegistered", {**HOLDER_DETAILS, "card_number": CARD}, f"card-{CARD}")],
        count(mm_cards, mm_cards.c.card_number == CARD),
    ),
    "query.mm_dispensations": Case(
        "query",
        ("CardRegistered", {"first_name": "Robert"}, "card-MM-1"),
        [("CardRegistered", {**HOLDER_DETAILS, "card_number": CARD}, f"card-{CARD}")],
        count(mm_card_facts, mm_card_facts.c.card_number == CARD),
    ),
    "query.patient_history": Case(
        "submissions",
        ("DispensationsRecorded", {"records": [{"dispensation_id": "x"}]}, "submission-1"),
        [("DispensationsRecorded", {"submission_id": str(uuid.uuid4()),
                                    "records": [entry(str(uuid.uuid4()), PERSON)]},
          "submission-2")],
        count(dispensations, dispensations.c.person_id == uuid.UUID(PERSON)),
    ),
    "query.patient_alerts": Case(
        "alerts",
        ("AlertRaised", {**RAISED, "alert_id": "not an id"}, "alerts"),
        [("AlertRaised", RAISED, "alerts")],
        count(patient_alerts, patient_alerts.c.alert_id == uuid.UUID(RAISED["alert_id"])),
    ),
    "query.report_statistics": Case(
        "query",
        ("PatientReportViewed", {"format": "pdf"}, "report-1"),
        [("PatientReportViewed", {"requester": VIEWER, "format": "pdf"}, "report-2")],
        count(report_views, report_views.c.account_id == ACCOUNT),
    ),
    "alerts.watch": Case(
        "submissions",
        ("DispensationsRecorded", {"submission_id": str(uuid.uuid4()), "records": [
            entry(str(uuid.uuid4()), str(uuid.uuid4()), **FAR_FUTURE),
            entry(str(uuid.uuid4()), str(uuid.uuid4()), **FAR_FUTURE)]}, "submission-1"),
        [("DispensationsRecorded", {"submission_id": str(uuid.uuid4()),
                                    "records": [entry(str(uuid.uuid4()), PERSON)]},
          "submission-2")],
        count(medications, medications.c.person_id == uuid.UUID(PERSON)),
    ),
    "audit.trail": Case(
        "helpdesk",
        ("TicketOpened", {"person_ids": 5}, "ticket-1"),  # person_ids must be a list
        [("TicketCommented", {"body": "hello"}, "ticket-1")],
        count(entries, entries.c.source == "helpdesk", entries.c.event_type == "TicketCommented"),
    ),
    "audit.misuse": Case(
        "identity",
        ("AccountCreated", {"account_id": ACCOUNT}, f"account-{ACCOUNT}"),
        [("AccountCreated", {"account_id": ACCOUNT, "email": "jane@example.org",
                             "first_name": "Jane", "last_name": "Doe", "role": "prescriber",
                             "address_lines": ["1 Elm Street", "Hartford, CT 06106"]},
          f"account-{ACCOUNT}")],
        count(users, users.c.account_id == ACCOUNT),
    ),
    "helpdesk.tickets": Case(
        "helpdesk",
        ("TicketOpened", {"subject": "no contact"}, f"ticket-{uuid.uuid4()}"),
        opened_ticket(TICKET),
        count(tickets, tickets.c.ticket_id == uuid.UUID(TICKET)),
    ),
}  # fmt: skip
# The alerts watch's bad event, twice filled on 9999-12-31 for one person:
CASES["alerts.watch"].bad[1]["records"][1]["person_id"] = CASES["alerts.watch"].bad[1]["records"][
    0
]["person_id"]


def test_every_projection_the_services_run_has_a_case() -> None:
    assert sorted(running()) == sorted(CASES)


class Anything(Schema):
    class Meta:
        unknown = INCLUDE


def unchecked(registry: EventRegistry) -> EventRegistry:
    """``registry``'s types and versions, accepting any data: how a bad event gets in."""
    loose = EventRegistry()
    for kind in registry._types.values():
        loose.register(kind.name, Anything, kind.version, kind.upcasters)
    return loose


class Feed:
    """The projection's sources: its own service's store, the others as lists."""

    def __init__(self, db: Database, service: str, projection: Projection):
        registry = next(s for s in SERVICES if s.name == service).load().kernel.registry
        self.own, self.service = EventStore(db, registry), service
        self.own.create_tables()
        self.loose = EventStore(db, unchecked(registry))
        self.others = {s: ListSource() for s in projection.sources if s != service}
        sources = {
            s: StoreSource(self.own, projection.own_streams) if s == service else self.others[s]
            for s in projection.sources
        }
        self.projector = Projector(db, projection, sources, batch_size=50)
        self.projector.create_tables()

    def add(self, source: str, kind: str, data: dict, stream: str) -> uuid.UUID:
        if source == self.service:
            event = NewEvent(kind, data, Metadata(T0))
            self.loose.append(stream, None, [event])
            return event.event_id
        return self.others[source].add(kind, data, stream, T0).event_id


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_event_is_set_aside_and_the_next_one_applied(name: str, database: Database) -> None:
    service, kind = running()[name]
    case = CASES[name]
    feed = Feed(database, service, kind())
    for event in case.before:
        feed.add(case.source, *event)
    bad = feed.add(case.source, *case.bad)
    for event in case.good:
        feed.add(case.source, *event)

    feed.projector.catch_up()

    with database.read() as conn:
        assert case.applied and case.applied(conn) == 1, f"{name} skipped the good event"
        listed = setaside.listed(conn, name)
    assert [(e.event_id, e.source, e.tries) for e in listed] == [(bad, case.source, 3)]
    assert feed.projector.catch_up() == 0, "the projection is stuck"
    assert feed.projector.lag_seconds() == 0


def test_the_audit_trail_chains_a_stand_in_for_an_event_it_set_aside(database) -> None:
    feed = Feed(database, "audit", running()["audit.trail"][1]())
    bad = feed.add("helpdesk", *CASES["audit.trail"].bad)
    feed.add("helpdesk", *CASES["audit.trail"].good[0])
    feed.projector.catch_up()
    with database.read() as conn:
        chained = conn.execute(
            sa.select(entries.c.source_position, entries.c.event_id, entries.c.body).order_by(
                entries.c.n
            )
        ).all()
    assert [(p, i) for p, i, _ in chained] == [(1, bad), (2, chained[1][1])]
    assert '"data":{"set_aside":true}' in chained[0][2], "the stand-in keeps no data"


# -- reactions -------------------------------------------------------------------------------


def reacting() -> dict[str, tuple[str, type[Reaction]]]:
    """Every reaction any service runs: name -> (service, class)."""
    return {r.name: (spec.name, r) for spec in SERVICES for r in spec.load().kernel.reaction_types}


NOTIFY = AlertPolicy(notify_prescribers=True).to_json()
REACTIONS: dict[str, Case] = {
    "registration.mail": Case(
        "registration",
        ("VerificationEmailRequested", {}, f"registration-{uuid.uuid4()}"),
        started_application(str(uuid.uuid4())),
    ),
    "registration.access": Case(
        "registration",
        ("ApplicationApproved", {"first_name": "Jane"}, f"registration-{uuid.uuid4()}"),
        # A change of telephone number: nothing identity keeps.
        [("ProfileChangeApproved", {"changes": {"phone": "860-555-0101"}},
          f"registration-{uuid.uuid4()}")],
    ),
    "alerts.notices": Case(
        "alerts",
        ("AlertRaised", {**RAISED, "person_id": "not an id"}, "alerts"),
        [("AlertRaised", {**RAISED, "dispensation_ids": []}, "alerts")],  # none to notify
        before=[("AlertPolicyChanged", {"policy": NOTIFY}, POLICY_STREAM)],
    ),
    "helpdesk.mail": Case(
        "helpdesk",
        ("TicketCommented", {"comment_id": "c1"}, f"ticket-{uuid.uuid4()}"),
        opened_ticket(str(uuid.uuid4())),
    ),
}  # fmt: skip


def test_every_reaction_the_services_run_has_a_case() -> None:
    assert sorted(reacting()) == sorted(REACTIONS)


@pytest.mark.parametrize("name", sorted(REACTIONS))
def test_a_reaction_sets_a_bad_event_aside_after_its_tries_and_reacts_to_the_next(
    name: str, database: Database, amqp_uri: str, tmp_path
) -> None:
    service, kind = reacting()[name]
    case = REACTIONS[name]
    settings = load_settings({"PMP_AMQP_URI": amqp_uri, "PMP_DATA_DIR": str(tmp_path)})
    registry = next(s for s in SERVICES if s.name == service).load().kernel.registry
    store = EventStore(database, registry)
    store.create_tables()
    database.create(watch_metadata)
    database.create(notices_metadata)
    loose = EventStore(database, unchecked(registry))
    for kind_, data, stream in [*case.before, case.bad, *case.good]:
        loose.append(stream, None, [NewEvent(kind_, data, Metadata(T0))])
    stored = store.read_all(0, 100)
    bad = next(e for e in stored if e.data == case.bad[1])
    good = [e.event_id for e in stored if e.position > bad.position and e.type in kind.types]
    reactor = Reactor(database, store, kind(settings, store))
    reactor.create_tables()

    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(Exception) as failed:
            reactor.catch_up()
        assert not setaside.is_transient(failed.value)
    reactor.catch_up()

    with database.read() as conn:
        listed = setaside.listed(conn, name)
        handled = set(
            conn.scalars(
                sa.select(processed_events.c.event_id).where(processed_events.c.consumer == name)
            )
        )
    assert [(e.event_id, e.tries) for e in listed] == [(bad.event_id, MAX_ATTEMPTS)]
    assert good and set(good) <= handled, f"{name} did not react to the events after the bad one"
    assert reactor.position() == store.head_position() and reactor.catch_up() == 0


def test_a_probe_recorded_twice_by_one_service_is_one_arrival_not_a_poison(database) -> None:
    """A service killed while answering ``record_probe`` gets the request again when it
    restarts and records the probe a second time: that is at-least-once, not a bad event."""
    feed = Feed(database, "query", running()["query.probe_arrivals"][1]())
    probe = str(uuid.uuid4())
    for _ in range(2):
        feed.add("identity", "ProbeRecorded", {"probe_id": probe, "service": "identity"},
                 f"probe-{probe}")  # fmt: skip
    feed.projector.catch_up()
    with database.read() as conn:
        assert count(probe_arrivals, probe_arrivals.c.probe_id == uuid.UUID(probe))(conn) == 1
        assert setaside.listed(conn, "query.probe_arrivals") == []
