"""An administrator's decision on an uncertain link becomes exactly one event."""

from __future__ import annotations

import uuid

import pytest

from services.submissions.matches import DecisionRefused, decide

A, B, C = (str(uuid.UUID(int=n)) for n in (1, 2, 3))
NEW = uuid.UUID(int=9)


def match(kind: str, possible: list[str]) -> dict:
    listed = [{"person_id": p, "score": 9.0} for p in possible]
    return {"patient_record": 4, "person_id": A, "kind": kind, "possible": listed}


@pytest.mark.parametrize(
    ("kind", "same", "event", "data"),
    [
        ("probabilistic", True, "PatientLinkConfirmed", {"person_id": A}),
        ("probabilistic", False, "PatientSplit", {"person_id": A, "new_person_id": str(NEW)}),
        ("new", True, "PatientsMerged", {"person_id": B, "merged_person_id": A}),
        ("new", False, "PatientsKeptApart", {"person_id": A}),
    ],
)
def test_each_kind_and_answer_has_its_event(kind, same, event, data):
    found = decide(match(kind, [B, C]), same, None, " checked ", new_id=lambda: NEW)
    assert found == (event, {"patient_record": 4, "note": "checked", **data})


def test_a_merge_joins_the_chosen_possible_match_and_no_other():
    assert decide(match("new", [B, C]), True, C, "")[1]["person_id"] == C
    with pytest.raises(DecisionRefused, match="possible matches listed"):
        decide(match("new", [B]), True, A, "")
