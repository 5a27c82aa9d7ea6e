"""The medical marijuana part of the demo data: a registry file and one dispensary's ASAP file.

A few of the demo's ordinary patients hold registry cards (one expired, one revoked, one
with a caregiver), and a dispensary reports their purchases in the demo's last months with
DSP07 ``MM`` and the card in PAT03 (``docs/mm-registry.md``); the caregiver picks up some of
their holder's (AIR). Four of its records are the kind an administrator should notice: a
purchase after the card expired, one under a card by somebody else, one picked up by
somebody who is not the registered caregiver, and one under a number the registry does not
have.
Dates follow the demo's last day, so the same seed gives the same files.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.query.mm_cards import COLUMNS
from services.submissions.asap_segments import MARIJUANA
from services.submissions.asap_writer import AsapWriter
from services.submissions.demo import npi_check_digit
from services.submissions.names import STATE

REGISTRY_FILE = "registry.csv"
DISPENSARY_FILE = "dispensary.dat"
UNKNOWN_CARD = "MM-D09999"
DISPENSARY = {
    "npi": "140000000" + npi_check_digit("140000000"),
    "name": "BUCKEYE WELLNESS DISPENSARY",
    "address_1": "200 HIGH ST",
    "city": "COLUMBUS",
    "state": STATE,
    "zip": "43215",
}
CERTIFIER = {"npi": "150000000" + npi_check_digit("150000000"), "last_name": "PARK",
             "first_name": "LEE"}  # fmt: skip
PRODUCTS = (("CT-FLOWER-3.5G", "3.5"), ("CT-VAPE-0.5G", "0.5"), ("CT-TINCTURE-30ML", "30"))
#: The cards: (status in the registry file, caregiver).
PLAN = (
    ("active", ""),
    ("active", "Grace Okafor"),
    ("expired", ""),
    ("revoked", ""),
    ("active", ""),
    ("active", ""),
)


def write_registry_demo(folder: Path, manifest: dict[str, Any], today: date) -> dict[str, Any]:
    """Write ``registry.csv`` and ``dispensary.dat`` into ``folder`` for the demo whose
    manifest is ``manifest``; what was written: the paths and the cards by status."""
    end = date.fromisoformat(manifest["end"])
    holders = [p for p in manifest["persons"] if p["kind"] == "ordinary"][: len(PLAN)]
    plan = zip(holders, PLAN, strict=False)
    cards = [_card(i, person, *planned, end, today) for i, (person, planned) in enumerate(plan)]
    registry = folder / REGISTRY_FILE
    with registry.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(cards)
    dispensary = folder / DISPENSARY_FILE
    created = datetime.combine(end + timedelta(days=1), time(3, 0))
    with dispensary.open("wb") as file, AsapWriter(
        file, f"MMD{end:%Y%m}", created, source_id="MMD0001", source_name=DISPENSARY["name"]
    ) as asap:  # fmt: skip
        asap.open_pharmacy(DISPENSARY)
        for n, (card, patient, filled, product, taker) in enumerate(_purchases(cards, end), 1):
            dsp = _dsp(n, card, filled, product)
            asap.add_dispensation(_pat(card, patient), dsp, CERTIFIER, _air(taker))
        asap.close_pharmacy()
    by_status = {c["status"]: c["card_number"] for c in reversed(cards)}
    return {"registry": registry, "dispensary": dispensary, "cards": len(cards),
            "valid": by_status.get("active"), "expired": by_status.get("expired")}  # fmt: skip


def _card(i: int, person: dict[str, Any], status: str, caregiver: str, end: date,
          today: date) -> dict[str, str]:  # fmt: skip
    first, last, born, zip_code = person["records"][0]
    issued = end - timedelta(days=200 + 30 * i)
    expiry = end - timedelta(days=60) if status == "expired" else issued + timedelta(days=730)
    if status == "active" and expiry < today:
        status = "expired"  # an old demo loaded late: the file must say what the dates say
    return {
        "card_number": f"MM-D{i + 1:05d}",
        "last_name": last.title(),
        "first_name": first.title(),
        "birth_date": born,
        "address": f"{10 + i} Elm St",
        "city": "Springfield",
        "state": STATE,
        "zip": zip_code,
        "practitioner": "Dr. Lee Park",
        "practitioner_npi": CERTIFIER["npi"],
        "caregiver": caregiver,
        "issue_date": issued.isoformat(),
        "expiry_date": expiry.isoformat(),
        "status": status,
    }


def _purchases(cards: list[dict[str, str]], end: date):
    """(card, patient as reported, date filled, product, who else picked it up): two a month
    for each holder in the demo's last two months (a caregiver fetching some), then the four
    an administrator should notice."""
    for i, card in enumerate(cards):
        for k in range(4):
            filled = end - timedelta(days=5 + 15 * k + i)
            taker = card["caregiver"] if k % 2 else ""
            if filled <= date.fromisoformat(card["expiry_date"]):
                yield card, card, filled, PRODUCTS[(i + k) % len(PRODUCTS)], taker
    expired = next((c for c in cards if c["status"] == "expired"), None)
    if expired is not None:
        yield expired, expired, end - timedelta(days=3), PRODUCTS[0], ""  # after the expiry
    if len(cards) > 1:
        yield cards[0], cards[1], end - timedelta(days=2), PRODUCTS[1], ""  # another person
        cared = cards[1]  # a holder with a caregiver; somebody else fetched this one
        yield cared, cared, end - timedelta(days=2), PRODUCTS[0], "James " + cared["last_name"]
        unknown = {**cards[0], "card_number": UNKNOWN_CARD}
        yield unknown, cards[0], end - timedelta(days=1), PRODUCTS[2], ""


def _air(taker: str) -> dict[str, Any] | None:
    """The AIR segment of a purchase a caregiver picked up (AIR06 04), or None."""
    if not taker:
        return None
    first, _, last = taker.upper().partition(" ")
    return {"person_relationship": "04", "person_first_name": first, "person_last_name": last}


def _pat(card: dict[str, str], patient: dict[str, str]) -> dict[str, Any]:
    return {
        "id_qualifier": "99",
        "id": card["card_number"],
        "last_name": patient["last_name"].upper(),
        "first_name": patient["first_name"].upper(),
        "address_1": patient["address"].upper(),
        "city": patient["city"].upper(),
        "state": patient["state"],
        "zip": patient["zip"],
        "birth_date": date.fromisoformat(patient["birth_date"]),
        "gender": "U",
    }


def _dsp(n: int, card: dict[str, str], filled: date, product: tuple[str, str]) -> dict[str, Any]:
    code, quantity = product
    return {
        "status": "00",
        "prescription_number": f"MM{n:06d}",
        "date_written": date.fromisoformat(card["issue_date"]),
        "refills_authorized": 0,
        "date_filled": filled,
        "refill_number": 0,
        "product_qualifier": MARIJUANA,
        "ndc": code,
        "quantity": Decimal(quantity),
        "days_supply": 15,
        "dosage_units_code": "02" if code.endswith("ML") else "03",
    }
