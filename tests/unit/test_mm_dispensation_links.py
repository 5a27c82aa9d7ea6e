"""Dispensaries' dispensations linked to registry cards: the card's standing on the day a
dispensation was filled, and whether the patient reported is the card's holder."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time

import sqlalchemy as sa

from pmp.envelope import Metadata, RecordedEvent
from services.query import mm_dispensations, mm_registry
from services.query.mm_cards import (
    ON_EXPIRED,
    ON_NO_CARD,
    ON_NOT_YET_ISSUED,
    ON_REVOKED,
    ON_VALID,
    CardHistory,
)
from services.query.mm_dispensations import (
    HOLDER_FIELDS,
    Judgement,
    MarijuanaDispensations,
    judged,
    shown_dispensation,
    to_check,
)

HOLDER_DETAILS = {
    "card_number": "MM-100001",
    "first_name": "Robert",
    "last_name": "Nowak",
    "birth_date": "1975-06-02",
    "address": "3 Oak St",
    "city": "Hartford",
    "state": "CT",
    "zip": "06103",
    "practitioner": "Dr. Lee Park",
    "practitioner_npi": "",
    "caregiver": "",
    "issue_date": "2025-01-10",
    "expiry_date": "2026-01-09",
}
REGISTERED = ("CardRegistered", HOLDER_DETAILS, date(2025, 1, 12))
RENEWED = (
    "CardRenewed",
    {"issue_date": "2026-03-01", "expiry_date": "2027-02-28"},
    date(2026, 3, 2),
)


def standing(events, day: str) -> str:
    return CardHistory.of(events).standing_on(date.fromisoformat(day))


def test_valid_from_the_issue_day_through_the_expiry_day():
    assert standing([REGISTERED], "2025-01-09") == ON_NOT_YET_ISSUED
    assert standing([REGISTERED], "2025-01-10") == ON_VALID
    assert standing([REGISTERED], "2026-01-09") == ON_VALID
    assert standing([REGISTERED], "2026-01-10") == ON_EXPIRED


def test_a_renewal_covers_its_period_and_the_earlier_one_stays_covered():
    events = [REGISTERED, RENEWED]
    assert standing(events, "2025-06-01") == ON_VALID  # the first certification
    assert standing(events, "2026-02-01") == ON_EXPIRED  # the gap between them
    assert standing(events, "2026-12-04") == ON_VALID


def test_a_corrected_expiry_moves_the_last_periods_end():
    corrected = (
        "CardDetailsCorrected",
        {"changes": {"expiry_date": "2025-06-30"}},
        date(2025, 2, 1),
    )
    assert standing([REGISTERED, corrected], "2025-07-01") == ON_EXPIRED


def test_revoked_from_the_day_recorded_until_a_renewal_reinstates_it():
    revoked = ("CardRevoked", {"reason": "revoked in the registry file"}, date(2025, 8, 1))
    assert standing([REGISTERED, revoked], "2025-07-31") == ON_VALID  # before the revocation
    assert standing([REGISTERED, revoked], "2025-08-01") == ON_REVOKED
    assert standing([REGISTERED, revoked, RENEWED], "2026-02-15") == ON_REVOKED
    assert standing([REGISTERED, revoked, RENEWED], "2026-03-01") == ON_VALID


def test_no_events_is_no_card():
    assert standing([], "2025-06-01") == ON_NO_CARD


def dispensation(first: str, last: str, born: str, filled: str = "2025-06-01") -> dict:
    return {
        "dispensation_id": "6f1f5a7e-8a55-4a53-9a59-0a3c3f0d1e11",
        "card_number": "MM-100001",
        "line": 4,
        "dispensary": {"name": "GREEN LEAF DISPENSARY", "npi": "1234567893"},
        "patient": {"first_name": first, "last_name": last, "birth_date": born},
        "dispensation": {
            "date_filled": filled,
            "ndc": "CT-FLOWER-35",
            "quantity": "3.5",
            "dosage_units_code": "03",
            "days_supply": 10,
        },
        "certifier": {"first_name": "LEE", "last_name": "PARK", "npi": "1234567893"},
    }


HOLDER = tuple(HOLDER_DETAILS[k] for k in HOLDER_FIELDS)
CARED_FOR = (*HOLDER[:3], "Grace Okafor")  # a holder with a registered caregiver


def test_the_holder_is_recognised_by_birth_date_and_a_name_search_would_take():
    history = CardHistory.of([REGISTERED])
    found = judged(dispensation("BOB", "NOWAK", "1975-06-02"), HOLDER, history)
    assert found == (ON_VALID, True, None)  # a nickname, as patient search forgives
    assert judged(dispensation("MARY", "NOWAK", "1975-06-02"), HOLDER, history)[1] is False
    assert judged(dispensation("ROBERT", "NOWAK", "1975-06-03"), HOLDER, history)[1] is False


def test_a_dispensation_is_shown_with_its_judgement():
    judgement = Judgement(ON_EXPIRED, False, None)
    shown = shown_dispensation(dispensation("BOB", "NOWAK", "1975-06-02"), judgement)
    assert (shown["card_standing"], shown["holder_matches"], shown["to_check"]) == (
        ON_EXPIRED, False, True,
    )  # fmt: skip
    assert (shown["unit"], shown["dispensary"], shown["certifier"], shown["patient"]) == (
        "g", "GREEN LEAF DISPENSARY", "LEE PARK", "BOB NOWAK",
    )  # fmt: skip


def test_without_a_card_there_is_no_holder_to_compare():
    found = judged(dispensation("ROBERT", "NOWAK", "1975-06-02"), None, None)
    assert found == (ON_NO_CARD, None, None) and found.to_check


def picked_up(first: str, last: str, relationship: str = "04") -> dict:
    record = dispensation("ROBERT", "NOWAK", "1975-06-02")
    record["dispensation"]["picked_up_by"] = {
        "person_relationship": relationship, "person_first_name": first,
        "person_last_name": last,
    }  # fmt: skip
    return record


def test_a_pick_up_by_somebody_else_is_judged_against_the_cards_caregiver():
    history = CardHistory.of([REGISTERED])
    assert judged(picked_up("GRACE", "OKAFOR"), CARED_FOR, history).pickup_matches is True
    assert judged(picked_up("GRACIE", "OKAFOR"), CARED_FOR, history).pickup_matches is True
    wrong = judged(picked_up("JAMES", "OKAFOR"), CARED_FOR, history)
    assert wrong.pickup_matches is False and wrong.to_check  # the card is valid, the holder's
    nobody = judged(picked_up("GRACE", "OKAFOR"), HOLDER, history)
    assert nobody.pickup_matches is False  # a holder without a caregiver sends nobody
    himself = judged(picked_up("ROBERT", "NOWAK", "01"), HOLDER, history)
    assert himself.pickup_matches is None and not himself.to_check


# -- the read model: the same judgement whichever file arrives first ---------------------------


def event(source_type: str, data: dict, day: date, n: int) -> RecordedEvent:
    at = datetime.combine(day, time(15), tzinfo=UTC)
    return RecordedEvent(uuid.uuid4(), "s", n, n, source_type, data, 1, Metadata(occurred_at=at))


def checked(events: list[tuple[str, RecordedEvent]]) -> list[tuple]:
    engine = sa.create_engine("sqlite://")
    mm_registry.metadata.create_all(engine)
    mm_dispensations.metadata.create_all(engine)
    projection = MarijuanaDispensations()
    with engine.begin() as conn:
        for source, e in events:
            projection.apply(conn, source, e)
        listed = to_check(conn)["dispensations"]
    return sorted((d["filled_on"], d["card_standing"], d["holder_matches"]) for d in listed)


def test_the_to_check_list_is_the_same_whichever_file_arrives_first():
    card = event("CardRegistered", {**HOLDER_DETAILS, "source": {}}, date(2025, 1, 12), 1)
    revoked = event("CardRevoked", {"card_number": "MM-100001", "reason": "misuse",
                                    "source": {}}, date(2025, 9, 1), 2)  # fmt: skip
    records = [
        {
            **dispensation("ROBERT", "NOWAK", "1975-06-02", filled),
            "dispensation_id": str(uuid.uuid4()),
        }
        for filled in ("2025-01-05", "2025-06-01", "2025-10-01")
    ] + [
        {
            **dispensation("MARY", "NOWAK", "1975-06-02", "2025-07-01"),
            "dispensation_id": str(uuid.uuid4()),
        }
    ]
    sold = event("MarijuanaDispensationsRecorded", {"records": records}, date(2025, 10, 2), 3)

    cards_first = checked([("query", card), ("query", revoked), ("submissions", sold)])
    sales_first = checked([("submissions", sold), ("query", card), ("query", revoked)])
    assert (
        cards_first
        == sales_first
        == [
            ("2025-01-05", ON_NOT_YET_ISSUED, True),
            ("2025-07-01", ON_VALID, False),  # somebody else
            ("2025-10-01", ON_REVOKED, True),
        ]
    )  # the holder's purchase of 2025-06-01 is not listed
    before_the_card = checked([("submissions", sold)])
    assert [standing for _, standing, _ in before_the_card] == [ON_NO_CARD] * 4
