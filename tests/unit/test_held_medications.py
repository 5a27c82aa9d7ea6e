"""What the alerts watch remembers between batches, and when it must forget."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from services.alerts.held import HeldMedications
from services.alerts.medications import Medication

ANN, BOB, CAY = (uuid.UUID(int=n) for n in (1, 2, 3))


def med(n: int) -> Medication:
    return Medication(
        dispensation_id=f"d{n}", filled=date(2026, 1, 1), days=30, drug_class="opioid",
        drug="Oxycodone SA", label="OXYCODONE 10 MG", strength=Decimal(10),
        quantity=Decimal(120), factor=Decimal("1.5"), prescriber="DEA P1", pharmacy="NCPDP F1",
    )  # fmt: skip


def test_a_batch_that_starts_where_the_last_one_closed_finds_what_it_left() -> None:
    held = HeldMedications()
    held.open(0)
    held.put(ANN, [med(1)])
    held.add(ANN, med(2))
    held.close(40)
    held.open(40)
    assert [m.dispensation_id for m in held.get(ANN)] == ["d1", "d2"]


def test_a_batch_that_starts_anywhere_else_finds_nothing() -> None:
    held = HeldMedications()
    held.open(0)
    held.put(ANN, [med(1)])
    held.close(40)  # ... and then its commit failed: the checkpoint is still 0
    held.open(0)
    assert held.get(ANN) is None


def test_a_batch_that_never_closed_leaves_nothing_to_trust() -> None:
    held = HeldMedications()
    held.open(0)
    held.put(ANN, [med(1)])
    held.close(40)
    held.open(40)
    held.add(ANN, med(2))  # the batch fails here, before it closes
    held.open(40)
    assert held.get(ANN) is None


def test_a_new_dispensation_of_someone_not_held_is_left_to_the_database() -> None:
    held = HeldMedications()
    held.add(BOB, med(1))
    assert held.get(BOB) is None


def test_the_persons_evaluated_least_recently_go_first_when_it_is_full() -> None:
    held = HeldMedications(limit=4)
    held.put(ANN, [med(1), med(2)])
    held.put(BOB, [med(3)])
    held.get(ANN)  # Ann evaluated again: Bob is now the oldest
    held.put(CAY, [med(4), med(5)])
    assert held.get(BOB) is None
    assert held.get(ANN) is not None and held.get(CAY) is not None


def test_forgetting_a_person_drops_only_that_person() -> None:
    held = HeldMedications()
    held.put(ANN, [med(1)])
    held.put(BOB, [med(2)])
    held.forget([ANN, CAY])
    assert held.get(ANN) is None and held.get(BOB) is not None
