"""Dispensaries' dispensations linked to registry cards, through the whole system on both
backends: an administrator loads the registry, a dispensary's data submitter sends an ASAP
file, the administrator reads each card's record and the dispensations under numbers the
registry does not have (API and pages), and a later file's void takes one away.

Card numbers carry a tag of their own, so the tests sharing a stack never see each other's."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid

import pytest

from tests.helpers.accounts import User, api
from tests.helpers.asap import air, build, pha, record
from tests.helpers.processes import wait_until
from tests.integration.test_audit_history import history

DISPENSARY = "GREEN LEAF DISPENSARY"
#: A registry file's rows, as ``registry_file`` takes them (card number suffix first).
HOLDERS = {
    "1": ("Vega", "Marisol", "1984-06-21", "", "2025-06-01", "2030-05-31", "active"),
    "2": ("Brandt", "Tomas", "1969-10-05", "Ines Brandt", "2024-01-15", "2025-01-14", "expired"),
    "3": ("Haddad", "Omar", "1991-02-11", "", "2025-09-01", "2030-08-31", "active"),
}


def registry_file(tag: str, holders: dict[str, tuple[str, ...]] = HOLDERS) -> bytes:
    """A registry CSV with the ``holders`` cards, numbered ``MM-<tag>-<suffix>``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["card_number", "last_name", "first_name", "birth_date", "address", "city", "state",
         "zip", "practitioner", "practitioner_npi", "caregiver", "issue_date", "expiry_date",
         "status"]
    )  # fmt: skip
    for suffix, (last, first, born, caregiver, issued, expires, status) in holders.items():
        writer.writerow(
            [f"MM-{tag}-{suffix}", last, first, born, "12 Elm St", "Hartford", "CT", "06103",
             "Dr. Lee Park", "1234567893", caregiver, issued, expires, status]
        )  # fmt: skip
    return out.getvalue().encode()


def dispensation(
    n: int,
    tag: str,
    card: str,
    filled: str,
    patient: tuple[str, str, str],
    dsp: dict[int, str] | None = None,
    picked_up_by: tuple[str, str] | None = None,
) -> list[list[str]]:
    """A dispensary's record: DSP07 MM, a product code, 3.5 g, the card in PAT03 (PAT02 99);
    ``patient`` is (last name, first name, date of birth YYYYMMDD) as reported, ``dsp`` the
    DSP elements to change, ``picked_up_by`` (last name, first name) a caregiver's AIR."""
    last, first, born = patient
    if picked_up_by:
        fetched = air({4: "", 5: "", 6: "04", 7: picked_up_by[0], 8: picked_up_by[1]})
        return dispensation(n, tag, card, filled, patient, dsp) + [fetched]
    return record(
        n,
        pat={2: "99", 3: card, 7: last, 8: first, 18: born},
        dsp={2: f"RX{tag}{n}", 3: filled, 5: filled, 7: "MM", 8: "CT-FLOWER-35", 9: "3.5",
             10: "30", 11: "03", **(dsp or {})},
    )  # fmt: skip


def dispensary_file(records: list[list[list[str]]], control: str) -> bytes:
    return build([(pha({4: DISPENSARY}), [s for r in records for s in r])], th02=control)


def send(stack, user: User, content: bytes, name: str):
    files = {"file": (name, content, "application/octet-stream")}
    sent = api(stack, "POST", "/api/submissions", user, files=files)
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "accepted", sent.json()
    return sent.json()


def to_check(stack, admin: User, tag: str) -> set[tuple]:
    """This test's dispensations on the to-check list: (card, filled on, standing, holder)."""
    listed = api(stack, "GET", "/api/mm/dispensations-to-check", admin).json()["dispensations"]
    return {
        (d["card_number"], d["filled_on"], d["card_standing"], d["holder_matches"])
        for d in listed
        if f"-{tag}-" in d["card_number"]
    }


def card_record(stack, admin: User, number: str):
    return api(stack, "GET", f"/api/mm/cards/{number}", admin)


def loaded_with(stack, admin: User, number: str, count: int) -> dict:
    """The card's record once the query service has ``count`` dispensations under it."""

    def shown() -> dict | None:
        found = card_record(stack, admin, number)
        if found.status_code == 200 and len(found.json()["dispensations"]) == count:
            return found.json()
        return None

    return wait_until(shown, 20, f"{count} dispensations under {number}")


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


def test_dispensations_are_linked_to_their_cards_and_judged_on_the_day_they_were_filled(
    stack, people, auditor, tag
):
    admin, dispensary = people["admin"], people["pharmacy"]
    loaded = api(stack, "POST", "/api/mm/imports", admin,
                 files={"file": ("registry.csv", registry_file(tag))})  # fmt: skip
    assert loaded.status_code == 200 and loaded.json()["counts"]["registered"] == 3, loaded.text
    valid, expired, unused = (f"MM-{tag}-{n}" for n in "123")
    unknown = f"MM-{tag}-9"
    holder, other = ("VEGA", "MARISOL", "19840621"), ("LOPEZ", "CARMEN", "19900101")
    first_file = dispensary_file(
        [
            dispensation(1, tag, valid.lower(), "20260310", holder),  # lower case: linked
            dispensation(
                2,
                tag,
                expired,
                "20250601",
                ("BRANDT", "TOMAS", "19691005"),
                picked_up_by=("BRANDT", "INES"),
            ),  # fmt: skip
            dispensation(3, tag, valid, "20260401", other, {9: "10", 11: "02"}),
            dispensation(4, tag, unknown, "20260501", ("REED", "SAM", "19770707")),
        ],
        control=f"{tag}1",
    )
    outcome = send(stack, dispensary, first_file, "dispensary-march.dat")
    assert outcome["counts"]["marijuana"] == 4 and outcome["counts"]["recorded"] == 4

    # the valid card: two dispensations, newest first; the second patient is not the holder
    record_ = loaded_with(stack, admin, valid, 2)
    answer = card_record(stack, admin, valid.lower())
    assert answer.headers["Cache-Control"] == "no-store"
    assert record_["card_number"] == valid
    card = record_["card"]
    assert (card["first_name"], card["last_name"], card["status"]) == ("Marisol", "Vega", "VALID")
    assert (card["practitioner"], card["expiry_date"]) == ("Dr. Lee Park", "2030-05-31")
    newest, oldest = record_["dispensations"]
    assert (newest["filled_on"], newest["patient"], newest["holder_matches"]) == (
        "2026-04-01", "CARMEN LOPEZ", False,
    )  # fmt: skip
    assert (newest["quantity"], newest["unit"], newest["card_standing"]) == ("10", "mL", "valid")
    assert {k: oldest[k] for k in (
        "filled_on", "dispensary", "product", "quantity", "unit", "days_supply", "certifier",
        "patient", "patient_birth_date", "card_standing", "holder_matches",
    )} == {
        "filled_on": "2026-03-10", "dispensary": DISPENSARY, "product": "CT-FLOWER-35",
        "quantity": "3.5", "unit": "g", "days_supply": 30, "certifier": "JOHN SMITH",
        "patient": "MARISOL VEGA", "patient_birth_date": "1984-06-21", "card_standing": "valid",
        "holder_matches": True,
    }  # fmt: skip

    # the expired card: filled after its expiry date, by the holder
    (late,) = loaded_with(stack, admin, expired, 1)["dispensations"]
    assert (late["card_standing"], late["holder_matches"]) == ("expired", True)
    assert (late["picked_up_by"], late["picked_up_as"], late["pickup_matches"]) == (
        "INES BRANDT", "caregiver", True,
    )  # fmt: skip
    assert card_record(stack, admin, expired).json()["card"]["status"] == "EXPIRED"

    # a number no card has: its dispensation alone
    orphan = card_record(stack, admin, unknown).json()
    assert orphan["card"] is None
    (alone,) = orphan["dispensations"]
    assert (alone["card_standing"], alone["holder_matches"]) == ("no such card", None)

    # to check: the unknown number, the purchase after expiry, the one by somebody else;
    # not the holder's own purchase on a valid card
    checked = api(stack, "GET", "/api/mm/dispensations-to-check", admin)
    assert checked.headers["Cache-Control"] == "no-store"
    assert (checked.json()["page"], checked.json()["pages"]) == (1, 1)
    assert to_check(stack, admin, tag) == {
        (unknown, "2026-05-01", "no such card", None),
        (expired, "2025-06-01", "expired", True),
        (valid, "2026-04-01", "valid", False),
    }

    # the registry file that brings the unknown card judges its dispensation again
    late_card = {"9": ("Reed", "Sam", "1977-07-07", "", "2026-01-01", "2030-12-31", "active")}
    files = {"file": ("registry-2.csv", registry_file(tag, late_card))}
    assert api(stack, "POST", "/api/mm/imports", admin, files=files).status_code == 200
    wait_until(
        lambda: len(to_check(stack, admin, tag)) == 2, 20, "the new card's dispensation judged"
    )
    assert unknown not in {number for number, *_ in to_check(stack, admin, tag)}
    (linked,) = card_record(stack, admin, unknown).json()["dispensations"]
    assert (linked["card_standing"], linked["holder_matches"]) == ("valid", True)

    # a card with nothing reported, and a number nobody has
    assert card_record(stack, admin, unused).json()["dispensations"] == []
    assert card_record(stack, admin, f"MM-{tag}-0").status_code == 404
    refused = card_record(stack, admin, "not a card")
    assert refused.status_code == 422
    assert refused.json()["title"] == "That is not a registry card number"
    assert "4 to 20 letters" in refused.json()["detail"]
    assert card_record(stack, auditor, valid).status_code == 403

    # a later file voids the dispensation to another person: it leaves the card's record
    void = dispensary_file(
        [dispensation(3, tag, valid, "20260401", other, {1: "02", 9: "10", 11: "02"})],
        control=f"{tag}2",
    )
    assert send(stack, dispensary, void, "dispensary-void.dat")["counts"]["voided"] == 1
    (kept,) = loaded_with(stack, admin, valid, 1)["dispensations"]
    assert kept["filled_on"] == "2026-03-10"

    viewed = wait_until(
        lambda: [
            e["data"] for e in history(stack, auditor, actor=admin.account_id,
                                       type="CardRecordViewed", page_size=500)["entries"]
            if e["data"]["card_number"] == expired
        ],
        15,
        "the audit trail has the card record read",
    )  # fmt: skip
    assert viewed[0]["viewer"]["account_id"] == admin.account_id
    assert viewed[0]["dispensations"] == 1
    # card numbers travelled in the API's paths, but no service logged one
    assert not [line for line in stack.log_lines() if f"-{tag}-" in json.dumps(line)]


def test_an_administrator_finds_a_card_and_reads_its_dispensations_on_the_pages(stack, people, tag):
    admin = people["admin"]
    loaded = api(stack, "POST", "/api/mm/imports", admin,
                 files={"file": ("registry.csv", registry_file(tag))})  # fmt: skip
    assert loaded.status_code == 200, loaded.text
    valid, unknown = f"MM-{tag}-1", f"MM-{tag}-9"
    content = dispensary_file(
        [
            dispensation(1, tag, valid, "20260310", ("VEGA", "MARISOL", "19840621")),
            dispensation(2, tag, valid, "20240601", ("VEGA", "MARISOL", "19840621")),
            dispensation(3, tag, unknown, "20260501", ("REED", "SAM", "19770707")),
            dispensation(
                4,
                tag,
                valid,
                "20260320",
                ("VEGA", "MARISOL", "19840621"),
                picked_up_by=("VEGA", "ANA"),
            ),  # the card has no caregiver
        ],
        control=f"{tag}3",
    )
    send(stack, people["pharmacy"], content, "dispensary-april.dat")
    loaded_with(stack, admin, valid, 3)
    cookies = admin.cookies()

    def get(path: str, **kwargs):
        return stack.get(path, cookies=cookies, headers={"Accept": "text/html"}, **kwargs)

    registry = get("/admin/mm-registry").text
    assert 'action="/admin/mm-registry/cards"' in registry and "Find a card" in registry
    assert 'href="/admin/mm-registry/to-check"' in registry
    found = get(f"/admin/mm-registry/cards?card_number=+{valid.lower()}+", allow_redirects=False)
    assert (found.status_code, found.headers["Location"]) == (
        303, f"/admin/mm-registry/cards/{valid}"
    )  # fmt: skip
    empty = get("/admin/mm-registry/cards?card_number=")
    assert empty.status_code == 422 and "Enter the card number." in empty.text
    wrong = get("/admin/mm-registry/cards?card_number=MM+1")
    assert wrong.status_code == 422 and "4 to 20 letters, digits or hyphens" in wrong.text

    page = get(f"/admin/mm-registry/cards/{valid}")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = page.text
    assert f"<h1>Card {valid}</h1>" in text and ">VALID</p>" in text
    assert "Marisol Vega" in text and "Dr. Lee Park" in text and "2030-05-31" in text
    assert "2 of 3" in text and "need checking" in text
    assert text.count('class="mm-flagged"') == 2 and "⚠ Not yet issued" in text
    assert "picked up by ANA VEGA (caregiver)" in text and "⚠ Not the caregiver" in text
    assert "⚠ Not the holder" not in text  # the holder every time

    unused = get(f"/admin/mm-registry/cards/MM-{tag}-3").text
    assert "No dispensary has reported a dispensation under this card." in unused
    orphan = get(f"/admin/mm-registry/cards/{unknown}").text
    assert "The registry has no card with this number." in orphan and "SAM REED" in orphan
    assert get(f"/admin/mm-registry/cards/MM-{tag}-0").status_code == 404

    listed = get("/admin/mm-registry/to-check")
    assert listed.status_code == 200 and listed.headers["Cache-Control"] == "no-store"
    rows = re.findall(
        rf'<a href="/admin/mm-registry/cards/(MM-{tag}-\d)">.*?</th>\s*<td>(.*?)</td>\s*'
        r'<td class="nowrap">([\d-]+)</td>',
        listed.text,
        re.S,
    )
    assert {(card, re.sub(r"<[^>]+>", "", why).strip(), day) for card, why, day in rows} == {
        (unknown, "⚠ No such card", "2026-05-01"),
        (valid, "⚠ Not yet issued", "2024-06-01"),  # the holder's, but before the issue date
        (valid, "⚠ Not the caregiver", "2026-03-20"),  # the card has no caregiver
    }
    assert "to check, newest first." in listed.text
