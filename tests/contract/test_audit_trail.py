"""The audit trail on SQLite and PostgreSQL: chained in each source's order, once per event,
refused any change by the database, and any change made anyway found by ``verify``."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from pmp.db import open_postgresql, open_sqlite
from pmp.envelope import Metadata, RecordedEvent
from pmp.eventstore import EventStore
from pmp.projector import Projector
from pmp.sources import StoreSource
from services.audit import trail
from services.audit.chain import GENESIS, link
from services.audit.history import HistoryRefused, history
from services.audit.projection import AuditTrail
from tests.helpers import notes
from tests.helpers.audit import drop_guards, restore_guards
from tests.helpers.processes import wait_until

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)


def event(position: int, kind: str = "PasswordChanged", actor: str = "u-1") -> RecordedEvent:
    return RecordedEvent(
        event_id=uuid.uuid4(), stream=f"account-{actor}", version=position, position=position,
        type=kind, data={"account_id": actor, "n": position}, schema_version=1,
        metadata=Metadata(occurred_at=T0 + timedelta(minutes=position), actor_id=actor),
    )  # fmt: skip


@pytest.fixture
def db(database):
    database.create(trail.metadata)
    database.create(trail.metadata)  # a second start changes nothing
    return database


def chained(db, source: str, events) -> int:
    with db.write() as conn:
        return trail.append(conn, source, events)


def verdict(db) -> trail.Verdict:
    with db.read() as conn:
        return trail.verify(conn)


def test_two_sources_chain_in_their_own_order_and_verify(db) -> None:
    identity, query = [event(p) for p in (1, 2, 3)], [event(p, "PatientSearched") for p in (1, 2)]
    assert chained(db, "identity", identity[:2]) == 2
    assert chained(db, "query", query) == 2
    assert chained(db, "identity", identity[2:]) == 1
    found = verdict(db)
    assert found.intact and found.count == 5 and found.head_hash != GENESIS
    with db.read() as conn:
        assert trail.head(conn) == trail.Head(5, found.head_hash)
        assert trail.last_position(conn, "identity") == 3


def test_an_event_delivered_again_is_chained_once(db) -> None:
    events = [event(1), event(2)]
    chained(db, "identity", events)
    before = verdict(db)
    assert chained(db, "identity", events) == 0
    assert chained(db, "identity", [events[1], event(3)]) == 1
    assert verdict(db).count == before.count + 1


def test_a_gap_is_refused_and_nothing_of_the_batch_is_chained(db) -> None:
    chained(db, "identity", [event(1)])
    with pytest.raises(trail.Gap, match="positions 2 to 3"):
        chained(db, "identity", [event(4), event(5)])
    assert verdict(db).count == 1
    assert chained(db, "identity", [event(2), event(3), event(4)]) == 3
    assert verdict(db).intact


def test_the_database_refuses_to_change_or_delete_an_entry(db) -> None:
    chained(db, "identity", [event(1), event(2)])
    for change in (
        trail.entries.update().values(actor_id="someone else"),
        trail.entries.delete().where(trail.entries.c.n == 2),
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.write() as conn:
            conn.execute(change)
    assert verdict(db).intact and verdict(db).count == 2


def test_one_byte_changed_breaks_the_chain_at_that_entry(db) -> None:
    chained(db, "identity", [event(p) for p in range(1, 6)])
    drop_guards(db)
    with db.write() as conn:
        body = conn.scalar(sa.select(trail.entries.c.body).where(trail.entries.c.n == 3))
        tampered = body.replace('"n":3', '"n":4', 1)
        assert tampered != body and len(tampered) == len(body)
        conn.execute(trail.entries.update().where(trail.entries.c.n == 3).values(body=tampered))
    found = verdict(db)
    assert (found.broken_at, found.count) == (3, 2)
    assert "hash" in found.reason
    with db.write() as conn:  # put back, the chain holds again, and so do the guards
        conn.execute(trail.entries.update().where(trail.entries.c.n == 3).values(body=body))
    restore_guards(db)
    assert verdict(db).intact
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.write() as conn:
        conn.execute(trail.entries.update().values(body=tampered))


def test_a_rehashed_entry_breaks_the_next_and_a_deleted_one_is_named(db) -> None:
    chained(db, "identity", [event(p) for p in range(1, 6)])
    drop_guards(db)
    with db.write() as conn:  # a changed entry given the hash its new contents would have
        second = conn.execute(sa.select(trail.entries).where(trail.entries.c.n == 2)).one()
        body = second.body.replace('"n":2', '"n":7', 1)
        rehashed = link(second.previous_hash, body.encode())
        where = trail.entries.c.n == 2
        conn.execute(trail.entries.update().where(where).values(body=body, hash=rehashed))
    found = verdict(db)
    assert (found.broken_at, found.reason) == (
        3,
        "its previous hash is not the hash of the entry before it",
    )
    with db.write() as conn:
        conn.execute(trail.entries.delete().where(trail.entries.c.n.in_([2, 3])))
    found = verdict(db)
    assert (found.broken_at, found.reason) == (4, "entry 2 is missing")


@pytest.mark.parametrize(
    "change", [{"actor_id": "someone else"}, {"occurred_at": T0 - timedelta(days=1)}]
)
def test_a_column_an_investigator_queries_by_changed_apart_from_its_entry_is_found(
    db, change
) -> None:
    chained(db, "identity", [event(p) for p in range(1, 4)])
    drop_guards(db)
    with db.write() as conn:
        conn.execute(trail.entries.update().where(trail.entries.c.n == 2).values(**change))
    found = verdict(db)
    assert (found.broken_at, found.reason) == (2, "its columns do not match its contents")


# -- the projection that feeds it --------------------------------------------------------


class TwoServiceTrail(AuditTrail):
    """The audit trail over two services instead of all of them."""

    sources = ("identity", "query")


@pytest.fixture
def source_stores(backend, tmp_path, postgres_url, schema_prefix):
    opened = {}
    for name in TwoServiceTrail.sources:
        db = (
            open_sqlite(tmp_path / f"{name}.sqlite")
            if backend == "sqlite"
            else open_postgresql(postgres_url, schema_prefix + name)
        )
        opened[name] = EventStore(db, notes.registry())
        opened[name].create_tables()
    yield opened
    for store in opened.values():
        store.db.dispose()


def test_every_event_of_every_source_is_chained_once_in_its_order(database, source_stores):
    projector = Projector(
        database, TwoServiceTrail(), {n: StoreSource(s) for n, s in source_stores.items()}, 7
    )
    projector.create_tables()
    notes.write_notes(source_stores["identity"], 10)
    notes.write_notes(source_stores["query"], 4)
    projector.catch_up()
    notes.write_notes(source_stores["identity"], 3)
    projector.catch_up()
    assert projector.catch_up() == 0
    with database.read() as conn:
        found = trail.verify(conn)
        chained = conn.execute(
            sa.select(trail.entries.c.source, trail.entries.c.event_id).order_by(trail.entries.c.n)
        ).all()
    assert found.intact and found.count == 17
    for name, store in source_stores.items():
        assert [e for s, e in chained if s == name] == [e.event_id for e in store.read_all(0, 100)]
    with pytest.raises(RuntimeError, match="append-only"):
        projector.reset()
    with database.read() as conn:
        assert trail.head(conn).count == 17


def test_wake_ups_dropped_on_purpose_still_end_with_every_event_chained(
    database, source_stores
) -> None:
    """The broker's messages only wake the trail: here two of every three are lost and none
    tells of the last events, and the trail still ends holding every event once, in each store's
    order (it reads the stores, polling when no message comes)."""
    projector = Projector(
        database, TwoServiceTrail(), {n: StoreSource(s) for n, s in source_stores.items()}, 5
    )
    projector.create_tables()
    stop, wake = threading.Event(), threading.Event()
    running = threading.Thread(target=projector.run, args=(stop, wake, 0.2), daemon=True)
    running.start()
    try:
        for round_ in range(12):
            notes.write_notes(source_stores["identity"], 3)
            notes.write_notes(source_stores["query"], 2)
            if round_ % 3 == 0:  # one message of three arrives
                wake.set()
            if round_ == 9:  # the trail goes quiet; no message ever tells of what follows
                wait_until(lambda: verdict(database).count == 50, 30, "the woken events")
        wait_until(lambda: verdict(database).count == 60, 30, "every event chained")
    finally:
        stop.set()
        wake.set()
        running.join(timeout=30)
    with database.read() as conn:
        chained = conn.execute(
            sa.select(trail.entries.c.source, trail.entries.c.event_id).order_by(trail.entries.c.n)
        ).all()
    assert verdict(database).intact
    for name, store in source_stores.items():
        assert [e for s, e in chained if s == name] == [e.event_id for e in store.read_all(0, 100)]


# -- what investigators ask of it ----------------------------------------------------------

ANN, BOB = uuid.UUID(int=101), uuid.UUID(int=102)


def viewing(position: int, actor: str, *persons: uuid.UUID) -> RecordedEvent:
    seen = event(position, "PatientReportViewed", actor)
    return RecordedEvent(**{**seen.__dict__, "data": {"person_ids": [str(p) for p in persons]}})


def test_who_looked_at_a_patient_is_found_and_the_listing_is_verified(db) -> None:
    chained(
        db, "query", [viewing(1, "u-1", ANN), viewing(2, "u-2", BOB), viewing(3, "u-3", ANN, BOB)]
    )
    with db.read() as conn:
        found = history(conn, patient=str(ANN), order="oldest")
        assert [e["metadata"]["actor_id"] for e in found["entries"]] == ["u-1", "u-3"]
        assert found["total"] == 2
        with pytest.raises(HistoryRefused, match="patient:"):
            history(conn, patient="Ann Smith")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), db.write() as conn:
        conn.execute(trail.patients.delete())
    drop_guards(db)
    with db.write() as conn:  # hide that u-3 looked at Ann
        conn.execute(
            trail.patients.delete().where(
                trail.patients.c.n == 3, trail.patients.c.person_id == ANN
            )
        )
    found = verdict(db)
    assert (found.broken_at, found.reason) == (
        3,
        "the patients it is listed under do not match its contents",
    )


def test_one_user_s_activity_is_what_they_did_and_what_was_done_to_their_account(db) -> None:
    theirs = RecordedEvent(
        **{**event(1, "AccountCreated", "admin").__dict__, "stream": "account-u-7"}
    )
    seen = viewing(1, "u-7", ANN)
    later = Metadata(occurred_at=T0 + timedelta(hours=1), actor_id="u-7")
    chained(db, "query", [RecordedEvent(**{**seen.__dict__, "metadata": later})])
    chained(  # chained after the report view, though it happened before it
        db,
        "identity",
        [theirs, event(2, "PasswordChanged", "u-7"), event(3, "LoginSucceeded", "u-8")],
    )
    with db.read() as conn:
        page = history(conn, user="u-7", order="oldest", page_size=2)
        rest = history(conn, user="u-7", order="oldest", page_size=2, page=2)
        newest = history(conn, user="u-7")
    assert page["total"] == 3
    kinds = [e["type"] for e in page["entries"] + rest["entries"]]
    assert kinds == ["AccountCreated", "PasswordChanged", "PatientReportViewed"]  # as happened
    assert [e["type"] for e in newest["entries"]] == kinds[::-1]


def test_an_investigator_sees_every_fact_but_no_password_or_code_hash(db) -> None:
    changed = event(1, "PasswordChanged", "u-7")
    secret = {"password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "via": "settings"}
    enrolled = {"sealed_secret": "gAAAAAB...", "recovery_code_hashes": ["ab12", "cd34"]}
    chained(
        db,
        "identity",
        [
            RecordedEvent(**{**changed.__dict__, "data": secret}),
            RecordedEvent(**{**event(2, "TwoFactorEnrolled", "u-7").__dict__, "data": enrolled}),
        ],
    )
    with db.read() as conn:
        shown = [e["data"] for e in history(conn, user="u-7", order="oldest")["entries"]]
    assert shown == [
        {"password_hash": "(withheld)", "via": "settings"},
        {"sealed_secret": "(withheld)", "recovery_code_hashes": "(withheld)"},
    ]
    assert verdict(db).intact  # the trail itself keeps them: the chain covers them
