"""The patient index: every kind of variant of a person is linked, look-alikes are not."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import replace
from datetime import date

import pytest

from services.submissions.identities import (
    COLLISIONS,
    VARIANT_KINDS,
    _Maker,
    generate,
    measure,
    seeded_ids,
)
from services.submissions.matching import (
    MATCH_THRESHOLD,
    normalise_name,
    normalise_surname,
    score,
)
from services.submissions.patients import Patient, PatientIndex

ALICE = Patient(
    first_name="Elizabeth",
    last_name="Smith",
    middle_name="Ann",
    dob=date(1980, 3, 7),
    gender="F",
    address="12 Oak Street",
    city="Dayton",
    state="OH",
    zip="45402",
)


@pytest.fixture
def index() -> PatientIndex:
    index = PatientIndex(new_id=seeded_ids(1))
    index.add(ALICE, uuid.UUID(int=1))
    return index


def test_normalisation():
    assert normalise_name("José") == "JOSE"
    assert normalise_name(" O'Brien ") == "OBRIEN"
    assert normalise_surname("Smith-Jones") == normalise_surname("SMITH JONES") == "SMITHJONES"
    assert normalise_surname("Smith Jr.") == "SMITH"


def test_the_same_record_is_a_deterministic_match(index):
    again = replace(ALICE, first_name="ELIZABETH", last_name="smith", middle_name="")
    link = index.link(again)
    assert (link.person_id, link.kind) == (uuid.UUID(int=1), "deterministic")


def test_a_new_person_gets_an_id_from_the_injected_function(index):
    other = Patient("Robert", "Garcia", date(1955, 1, 30), "M", zip="44101")
    link = index.link(other)
    assert link.kind == "new" and link.possible == []
    assert link.person_id == seeded_ids(1)()  # the first id the function makes
    assert PatientIndex(new_id=seeded_ids(1)).link(other).person_id == link.person_id


@pytest.mark.parametrize(
    "change",
    [
        {"first_name": "Elizabteh"},  # transposition
        {"first_name": "Elizabth"},  # deletion
        {"last_name": "Smyth"},  # substitution
        {"last_name": "Smitth"},  # insertion
        {"first_name": "Liz"},  # nickname
        {"first_name": "Betty"},
        {"last_name": "Smith-Jones"},  # hyphenated
        {"last_name": "Jones-Smith"},
        {"last_name": "Garcia"},  # married: same first name, DOB and address
        {"dob": date(1980, 7, 3)},  # day and month swapped
        {"dob": date(1980, 3, 1)},  # one digit wrong
        {"dob": date(1986, 3, 7)},
        {"middle_name": ""},
        {"middle_name": "A"},
        {"address": "77 Elm Ave", "city": "Toledo", "zip": "43604"},  # moved
        {"first_name": "ÉLIZABETH", "last_name": "Smith.", "zip": "45402-1234"},
    ],
)
def test_each_variant_is_linked(index, change):
    link = index.link(replace(ALICE, **change))
    assert link.person_id == uuid.UUID(int=1), link
    assert link.kind in ("deterministic", "probabilistic")


def test_a_namesake_elsewhere_with_another_gender_is_not_linked(index):
    namesake = replace(ALICE, gender="M", middle_name="Ray", address="5 Pine Rd", zip="43215")
    link = index.link(namesake)
    assert link.kind == "new" and link.person_id != uuid.UUID(int=1)
    assert score(ALICE, namesake).total < MATCH_THRESHOLD


def test_a_twin_is_not_linked_but_may_be_listed_as_possible(index):
    twin = replace(ALICE, first_name="Margaret", middle_name="")
    link = index.link(twin)
    assert link.kind == "new" and link.person_id != uuid.UUID(int=1)
    assert all(score < MATCH_THRESHOLD for _, score in link.possible)


def test_score_gives_its_reasons():
    result = score(ALICE, replace(ALICE, first_name="Bill", gender="M"))
    assert "first: nickname +4" not in result.reasons  # Bill is not Elizabeth
    assert "first: different -9" in result.reasons
    assert "gender: different -9" in result.reasons
    nickname = score(ALICE, replace(ALICE, first_name="Beth"))
    assert "first: nickname +4" in nickname.reasons
    assert float(nickname) == nickname.total >= MATCH_THRESHOLD


def test_generated_variants_and_collisions_one_by_one():
    """Each generated variant kind links to its original, but for a typo that makes another
    listed given name (Jean, Jen), which the administrators review; each collision stays
    apart, and a junior's variants (his "Jr" left out among them) link to him, not to his
    father."""
    maker = _Maker(random.Random(7))
    linked, reviewed, apart = 0, 0, Counter()
    while linked < 300 or min(apart[kind] for kind in COLLISIONS) < 20:
        person = maker.person()
        index = PatientIndex(new_id=seeded_ids())
        index.add(person, uuid.UUID(int=0))
        for kind in VARIANT_KINDS:
            variant = maker.variant(person, kind)
            if variant is None:
                continue
            link = index.link(variant)
            if kind == "typo_first" and "first: another name -9" in link.reasons:
                assert [p for p, _ in link.possible] == [uuid.UUID(int=0)], (person, variant)
                reviewed += 1
                continue
            assert link.person_id == uuid.UUID(int=0), (kind, person, variant)
            linked += 1
        for kind in COLLISIONS:
            collision = maker.collision(person, kind)
            if collision is None:
                continue
            assert index.link(collision).kind == "new", (person, collision)
            apart[kind] += 1
            if kind == "junior":
                family = PatientIndex(new_id=seeded_ids())
                family.add(person, uuid.UUID(int=0))
                family.add(collision, uuid.UUID(int=1))
                for variant_kind in VARIANT_KINDS:
                    variant = maker.variant(collision, variant_kind)
                    if variant is not None:
                        found = family.link(variant).person_id
                        assert found == uuid.UUID(int=1), (variant_kind, collision, variant)
                        linked += 1
    assert min(apart.values()) >= 20, apart
    assert reviewed < linked / 50


def test_generation_is_reproducible():
    assert generate(300, seed=5) == generate(300, seed=5)
    assert generate(300, seed=5) != generate(300, seed=6)
    kinds = {record.kind for record in generate(3000, seed=5)}
    assert kinds == {"original", *VARIANT_KINDS, *COLLISIONS}


def test_precision_and_recall_on_5000_records():
    result = measure(generate(5000, seed=0))
    assert result.precision >= 0.995, result
    assert result.recall >= 0.97, result


def test_records_are_numbered_in_the_order_they_are_added(index):
    bob = Patient("Robert", "Garcia", date(1955, 1, 30), "M", zip="44101")
    assert index.add(bob, uuid.UUID(int=2)) == 1
    assert index.link(bob).record == 1  # a deterministic link names the record it found
    assert index.link(replace(ALICE, first_name="Liz")).record is None  # weighed: none


def test_a_merge_moves_every_record_of_the_merged_person(index):
    twin = replace(ALICE, first_name="Margaret", middle_name="")
    merged = uuid.UUID(int=7)
    index.add(twin, merged)
    index.merge(uuid.UUID(int=1), merged)
    assert index.person_of(1) == uuid.UUID(int=1)
    assert index.link(twin).person_id == uuid.UUID(int=1)
    index.merge(uuid.UUID(int=1), merged)  # a merge applied twice changes nothing more
    assert [index.person_of(n) for n in range(2)] == [uuid.UUID(int=1)] * 2


def test_a_moved_record_takes_its_exact_twins_with_it(index):
    liz = replace(ALICE, first_name="Liz")
    number = index.add(liz, uuid.UUID(int=1))
    index.move(number, uuid.UUID(int=9))
    assert index.link(liz).person_id == uuid.UUID(int=9)
    assert index.link(ALICE).person_id == uuid.UUID(int=1)


def test_only_weighed_or_close_links_are_uncertain(index):
    assert not index.link(ALICE).uncertain  # deterministic
    assert index.link(replace(ALICE, first_name="Liz")).uncertain  # probabilistic
    twin = index.link(replace(ALICE, first_name="Margaret", middle_name=""))
    assert twin.kind == "new" and twin.uncertain == bool(twin.possible)
    stranger = index.link(Patient("Robert", "Garcia", date(1955, 1, 30), "M", zip="44101"))
    assert not stranger.uncertain
