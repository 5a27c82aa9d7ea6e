"""Look-alike households (issue 24): twins whose first names are one letter apart and a
father and son of one name are different people; a misspelt first name, a nickname and a
son's records with and without his "Jr" are still one person."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

import pytest

from pmp.db import open_sqlite
from services.submissions import memory
from services.submissions.identities import seeded_ids
from services.submissions.matching import MATCH_THRESHOLD, POSSIBLE_THRESHOLD, WEIGHTS, score
from services.submissions.patients import Patient, PatientIndex

FIRST = uuid.UUID(int=1)

MARK = Patient(
    first_name="Mark",
    last_name="Kowalski",
    dob=date(1990, 4, 12),
    gender="M",
    address="48 Maple Ave",
    city="Dayton",
    state="OH",
    zip="45402",
)
FATHER = Patient(
    first_name="John",
    middle_name="Robert",
    last_name="Kowalski",
    dob=date(1958, 6, 14),
    gender="M",
    address="48 Maple Ave",
    city="Dayton",
    state="OH",
    zip="45402",
)


def index_of(*patients: Patient) -> PatientIndex:
    """An index holding each patient as a person of their own: uuid 1, 2, ..."""
    index = PatientIndex(new_id=seeded_ids(1))
    for number, patient in enumerate(patients, start=1):
        index.add(patient, uuid.UUID(int=number))
    return index


@pytest.mark.parametrize(
    ("first", "other"),
    [
        (MARK, replace(MARK, first_name="Mary", gender="F")),  # the pair
        (MARK, replace(MARK, first_name="Mary", gender="U")),  # her gender not given
        (replace(MARK, first_name="John"), replace(MARK, first_name="Joan", gender="F")),
        (
            replace(MARK, first_name="John", middle_name="Michael"),
            replace(MARK, first_name="Joan", middle_name="Louise", gender="F"),
        ),
        (replace(MARK, first_name="Paul"), replace(MARK, first_name="Paula", gender="F")),
    ],
)
def test_twins_with_first_names_one_letter_apart_are_never_linked(first, other):
    link = index_of(first).link(other)
    assert link.kind == "new" and link.person_id != FIRST, link
    assert all(total < MATCH_THRESHOLD for _, total in link.possible)
    assert score(first, other).total < MATCH_THRESHOLD


@pytest.mark.parametrize(
    ("one", "two", "gender"), [("Carl", "Earl", "M"), ("Tim", "Tom", "M"), ("Nora", "Norma", "F")]
)
def test_same_gender_twins_one_letter_apart_go_to_review_not_linked(one, two, gender):
    """Two given names of the lists, both of one gender, everything else the same: the
    evidence is mixed, so an administrator decides (a new person listed as possible)."""
    first = replace(MARK, first_name=one, gender=gender)
    link = index_of(first).link(replace(first, first_name=two))
    assert link.kind == "new" and link.person_id != FIRST
    assert link.uncertain and [person for person, _ in link.possible] == [FIRST]
    assert POSSIBLE_THRESHOLD <= link.possible[0][1] < MATCH_THRESHOLD
    assert "first: another name -9" in link.reasons


@pytest.mark.parametrize(
    ("twin", "misspelt"),
    [
        # Austin Wayne's name mistyped is one letter from his twin Justin's, too
        (replace(MARK, first_name="Justin", middle_name="Randy"), "Ustin Wayne"),
        # Calvin's mistyped is two from his twin Alvin's, a listed name
        (replace(MARK, first_name="Alvin"), "Caxvin"),
    ],
)
def test_a_twins_mistyped_record_is_not_linked_to_the_other_twin(twin, misspelt):
    first, _, middle = misspelt.partition(" ")
    link = index_of(twin).link(replace(twin, first_name=first, middle_name=middle))
    assert link.kind == "new" and "first: another name -9" in link.reasons, link


@pytest.mark.parametrize(
    ("written", "misspelt"),
    [
        (replace(MARK, first_name="Michael"), "Micheal"),  # a transposition
        (replace(MARK, first_name="Jennifer", gender="F"), "Jenifer"),
        (replace(MARK, first_name="Brian"), "Bryan"),  # one name spelt two ways
        (replace(MARK, first_name="Theresa", gender="F"), "Teresa"),
        (replace(MARK, first_name="Alan", middle_name="Lee"), "Allen"),  # and one middle name
    ],
)
def test_a_misspelt_first_name_with_the_same_gender_is_still_linked(written, misspelt):
    link = index_of(written).link(replace(written, first_name=misspelt))
    assert (link.person_id, link.kind) == (FIRST, "probabilistic"), link


@pytest.mark.parametrize(
    ("formal", "nickname"), [("William", "Bill"), ("Elizabeth", "Beth"), ("Robert", "Bob")]
)
def test_a_nickname_is_still_linked(formal, nickname):
    gender = "F" if formal == "Elizabeth" else "M"
    person = replace(MARK, first_name=formal, gender=gender)
    link = index_of(person).link(replace(person, first_name=nickname))
    assert (link.person_id, link.kind) == (FIRST, "probabilistic"), link


@pytest.mark.parametrize(
    "son",
    [
        replace(FATHER, suffix="Jr", dob=date(1986, 2, 3)),
        replace(FATHER, dob=date(1986, 2, 3)),  # the pharmacy left out his "Jr"
        replace(FATHER, suffix="JR", dob=date(1988, 6, 14)),  # born on his father's birthday
        replace(FATHER, last_name="Kowalski Jr.", dob=date(1988, 6, 14)),  # "Jr" in PAT07
        replace(FATHER, suffix="II", dob=date(1978, 6, 14)),
    ],
)
def test_a_father_and_his_son_of_the_same_name_are_not_linked(son):
    link = index_of(FATHER).link(son)
    assert link.kind == "new" and link.person_id != FIRST, link
    assert link.possible == []  # nothing for an administrator to look at
    father_again = index_of(son).link(replace(FATHER, suffix="Sr"))
    assert father_again.kind == "new" and father_again.possible == []


def test_a_son_with_and_without_his_jr_is_one_person():
    son = replace(FATHER, suffix="Jr", dob=date(1988, 6, 14))
    index = index_of(FATHER, son)
    for record in (replace(son, suffix=""), replace(son, suffix="II"), replace(son, zip="")):
        assert index.link(record).person_id == uuid.UUID(int=2), record


def test_a_sons_suffix_survives_the_index_being_rebuilt_from_its_table(tmp_path):
    db = open_sqlite(tmp_path / "submissions.sqlite")
    db.create(memory.metadata)
    son = replace(FATHER, suffix="Jr", dob=date(1988, 6, 14))
    with db.write() as conn:
        memory.IntakeTables.remember_in(conn, [], [(0, son, uuid.UUID(int=2))])
    index = PatientIndex(new_id=seeded_ids(1))
    memory.IntakeTables(db).load_index(index)
    link = index.link(FATHER)
    assert link.kind == "new" and link.person_id != uuid.UUID(int=2)
    db.dispose()


def test_another_name_can_never_reach_the_match_threshold():
    """Whatever else agrees, two distinct given names are at most a possible match."""
    best = sum(max(levels.values()) for field, levels in WEIGHTS.items() if field != "first")
    assert best + WEIGHTS["first"]["another name"] < MATCH_THRESHOLD
