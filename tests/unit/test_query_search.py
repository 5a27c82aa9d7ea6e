"""Patient search finds spelling variants and a swapped day and month, and not unrelated
people: hand-written cases on both sides of each rule, and a measurement on a generated
identity set."""

from __future__ import annotations

import itertools
from datetime import date

from services.query.search import (
    Criteria,
    Identity,
    birth_dates,
    compare_first,
    compare_last,
    matching_persons,
    names_alike,
    score,
)
from services.submissions.identities import COLLISIONS, generate

BORN = date(1948, 5, 12)
_records = itertools.count(1)


def identity(person: str, first: str, last: str, born: date | None = BORN, **where) -> Identity:
    return Identity(next(_records), person, first, last, born,
                    where.get("zip", "44032"), where.get("state", "OH"))  # fmt: skip


BRYAN = identity("bryan", "Bryan", "Love")
ROBERT = identity("robert", "Robert", "Kowalski")
STRANGER = identity("stranger", "Margaret", "Oyelaran")  # born the same day


def found(criteria: Criteria, *identities: Identity) -> list[str]:
    return [person for person, _ in matching_persons(criteria, identities)]


def test_a_misspelled_first_name_and_a_nickname_find_the_person() -> None:
    assert found(Criteria("Brain", "Love", BORN), BRYAN, STRANGER) == ["bryan"]
    assert found(Criteria("Bob", "Kowalski", BORN), ROBERT, STRANGER) == ["robert"]
    assert found(Criteria("Robert", "Kowalsky", BORN), ROBERT) == ["robert"]
    assert found(Criteria("Rboert", "Kowalski", BORN), ROBERT) == ["robert"]  # transposed


def test_another_first_name_is_another_person() -> None:
    assert found(Criteria("Mark", "Love", BORN), BRYAN) == []
    assert found(Criteria("B", "Love", BORN), BRYAN) == []  # an initial is not enough
    assert compare_first("Jane", "Joan") is None  # alike in sound only
    assert compare_first("Daniel", "Danielle") is None  # boy/girl twins
    assert compare_first("Carl", "Carol") is None
    assert compare_first("Terry", "Theresa") is not None  # a nickname for either


def test_a_twin_one_letter_away_is_another_person_and_a_name_spelt_two_ways_is_not() -> None:
    """Carl and Earl, Mark and Mary: each a name of its own, so a search for one never
    shows the other's history (one typing error apart, they were both listed)."""
    carl, earl = identity("carl", "Carl", "Love"), identity("earl", "Earl", "Love")
    assert found(Criteria("Carl", "Love", BORN), carl, earl) == ["carl"]
    assert found(Criteria("Mary", "Love", BORN), identity("mark", "Mark", "Love")) == []
    assert found(Criteria("Brian", "Love", BORN), BRYAN) == ["bryan"]  # one name, two spellings
    assert found(Criteria("Carll", "Love", BORN), carl, earl) == ["carl"]  # a typo of Carl


def test_names_ignore_case_accents_spaces_and_punctuation() -> None:
    jose = identity("jose", "José", "O'Brien")
    assert found(Criteria("JOSE", "obrien", BORN), jose) == ["jose"]
    assert found(Criteria("jose", "O Brien", BORN), jose) == ["jose"]


def test_a_hyphenated_or_double_surname_matches_either_part() -> None:
    assert compare_last("Love", "Love-Garcia") is not None
    assert compare_last("Garcia Love", "Love") is not None
    assert compare_last("Stevens", "Stephens") is not None  # two errors, alike
    assert compare_last("Lee", "Leeman") is None  # begins with it: another name
    assert compare_last("Harris", "Harrison") is None
    assert compare_last("De La Cruz", "De Leon") is None  # a particle tells nothing
    assert compare_last("De La Cruz", "Cruz") is not None


def test_day_and_month_swapped_are_searched_too() -> None:
    swapped = date(1948, 12, 5)
    assert birth_dates(Criteria("Bryan", "Love", swapped)) == (swapped, BORN)
    assert found(Criteria("Bryan", "Love", swapped), BRYAN) == ["bryan"]
    assert birth_dates(Criteria("Bryan", "Love", date(1948, 5, 13))) == (date(1948, 5, 13),)
    assert birth_dates(Criteria("Bryan", "Love", date(1948, 5, 5))) == (date(1948, 5, 5),)


def test_an_exact_date_scores_above_its_swap() -> None:
    exact = score(Criteria("Bryan", "Love", BORN), BRYAN)
    swapped = score(Criteria("Bryan", "Love", date(1948, 12, 5)), BRYAN)
    assert exact == 1.0
    assert swapped is not None and swapped < exact


def test_an_unrelated_person_born_the_same_day_is_not_shown() -> None:
    assert found(Criteria("Bryan", "Love", BORN), BRYAN, STRANGER, ROBERT) == ["bryan"]
    assert found(Criteria("Brian", "Lowe", date(1948, 5, 11)), BRYAN) == []  # another day
    assert found(Criteria("Bryan", "Love", BORN), identity("x", "Bryan", "Love", None)) == []


def test_a_partial_first_name_finds_every_name_it_begins() -> None:
    bryony = identity("bryony", "Bryony", "Love")
    assert set(found(Criteria("Bry", "Love", BORN, partial_first_name=True), BRYAN, bryony)) == {
        "bryan", "bryony"}  # fmt: skip
    assert found(Criteria("B", "Love", BORN, partial_first_name=True), BRYAN) == ["bryan"]
    assert found(Criteria("Bri", "Love", BORN, partial_first_name=True), BRYAN) == []
    assert found(Criteria("", "Love", BORN, partial_first_name=True), BRYAN) == []


def test_zip_and_state_only_narrow() -> None:
    moved = identity("bryan-2", "Bryan", "Love", zip="06101-1234", state="CT")
    nowhere = identity("bryan-3", "Bryan", "Love", zip="", state="")
    assert found(Criteria("Bryan", "Love", BORN, zip="06101"), BRYAN, moved, nowhere) == [
        "bryan-2"]  # fmt: skip
    assert found(Criteria("Bryan", "Love", BORN, state="oh"), BRYAN, moved, nowhere) == ["bryan"]
    assert found(Criteria("Bryan", "Love", BORN, zip="44032", state="CT"), BRYAN, moved) == []
    assert found(Criteria("Mark", "Love", BORN, zip="44032"), BRYAN) == []  # never adds


def test_the_best_match_comes_first_and_a_person_once() -> None:
    exact = identity("exact", "Bryan", "Love")
    typo = identity("typo", "Brayn", "Love")
    also_exact = identity("exact", "Bryan", "Love-Garcia")
    assert matching_persons(Criteria("Bryan", "Love", BORN), [typo, also_exact, exact]) == [
        ("exact", 1.0), ("typo", 0.96)]  # fmt: skip


FINDABLE = {"typo_first", "typo_last", "nickname", "hyphenated", "swapped_dob", "no_middle",
            "moved"}  # fmt: skip  # what a search tolerates; a new surname or DOB is not
CROWDED_YEAR = 1960  # a leap year: every generated day and month exists in it


def test_precision_and_recall_on_a_generated_identity_set() -> None:
    """Originals are what the pharmacies reported; each variant is what a user typed.

    Every date of birth is moved into one year, so that each search has ~50 candidates
    (a state has hundreds per date): spread over 93 years, a search would have one or
    two, and precision would measure nothing. A person with the very same first and last
    name and date of birth as the one searched cannot be told apart by a search: both are
    shown for the user to pick by address, so such a person is not counted as wrong.

    The set holds the look-alike households made for the patient index (near twins one
    letter apart, juniors: issue 24); with them, a search that listed Earl for Carl had a
    precision of 98.0%."""
    records = generate(20_000, seed=5)
    by_born: dict[date, list[Identity]] = {}
    named: dict[str, tuple[str, str, date]] = {}
    for n, r in enumerate(records):
        if r.kind == "original" or r.kind in COLLISIONS:  # a person's first record
            p, born = r.patient, r.patient.dob.replace(year=CROWDED_YEAR)
            by_born.setdefault(born, []).append(
                Identity(n, r.person_key, p.first_name, p.last_name, born, p.zip, p.state)
            )
            named[r.person_key] = (p.first_name.upper(), p.last_name.upper(), born)
    returned = correct = searches = hits = 0
    for r in records:
        if r.kind not in FINDABLE:
            continue
        p = r.patient
        criteria = Criteria(p.first_name, p.last_name, p.dob.replace(year=CROWDED_YEAR))
        candidates = [i for d in birth_dates(criteria) for i in by_born.get(d, [])]
        persons = found(criteria, *candidates)
        searches += 1
        hits += r.person_key in persons
        returned += len(persons)
        correct += sum(named[p] == named[r.person_key] for p in persons)
    precision, recall = correct / returned, hits / searches
    print(f"{searches} searches: precision {precision:.2%}, recall {recall:.2%}")
    assert searches > 5000
    assert precision >= 0.995
    assert recall >= 0.95


def test_whole_names_forgive_a_typo_in_either_name_and_not_another_name() -> None:
    assert names_alike("Ana", "Rivera", "Ana", "Rivera") == 1.0
    assert names_alike("Anna", "Rivera", "ANA", "RIVERA") == 0.95  # one letter too many
    assert names_alike("Ana", "Rivra", "ANA", "RIVERA") == 0.95  # one letter missing
    assert names_alike("Ana", "Rivera", "ANA", "ROMERO") is None  # another surname
    assert names_alike("Maria", "Rivera", "ANA", "RIVERA") is None  # another first name
    assert names_alike("Carl", "Rivera", "CAROL", "RIVERA") is None  # boy/girl twins
