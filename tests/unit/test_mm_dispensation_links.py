"""Dispensaries' dispensations linked to registry cards: the card's standing on the day a
dispensation was filled, and whether the patient reported is the card's holder."""

from __future__ import annotations

from datetime import date

from services.query.mm_cards import (
    ON_EXPIRED,
    ON_NO_CARD,
    ON_NOT_YET_ISSUED,
    ON_REVOKED,
    ON_VALID,
    Card,
    CardHistory,
)
from services.query.mm_dispensations import shown_dispensation

HOLDER = {
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
REGISTERED = ("CardRegistered", HOLDER, date(2025, 1, 12))
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


def test_the_holder_is_recognised_by_birth_date_and_a_name_search_would_take():
    card = Card.fold("MM-100001", [(REGISTERED[0], REGISTERED[1])])
    history = CardHistory.of([REGISTERED])
    shown = shown_dispensation(dispensation("BOB", "NOWAK", "1975-06-02"), card, history)
    assert shown["holder_matches"] is True  # a nickname, as patient search forgives
    assert (shown["card_standing"], shown["unit"], shown["dispensary"]) == (
        ON_VALID,
        "g",
        "GREEN LEAF DISPENSARY",
    )
    assert shown["certifier"] == "LEE PARK" and shown["patient"] == "BOB NOWAK"

    other = shown_dispensation(dispensation("MARY", "NOWAK", "1975-06-02"), card, history)
    born_else = shown_dispensation(dispensation("ROBERT", "NOWAK", "1975-06-03"), card, history)
    assert other["holder_matches"] is False and born_else["holder_matches"] is False


def test_without_a_card_there_is_no_holder_to_compare():
    shown = shown_dispensation(dispensation("ROBERT", "NOWAK", "1975-06-02"), None, None)
    assert (shown["card_standing"], shown["holder_matches"]) == (ON_NO_CARD, None)
