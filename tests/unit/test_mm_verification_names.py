"""Verifying a registry card by name and date of birth: a typo in a name still finds the
card, another name does not, and the date of birth is exact."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from services.query.mm_cards import normal_name
from services.query.mm_registry import cards_of, metadata, mm_cards

BORN = date(1980, 3, 14)


@pytest.fixture
def conn():
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(mm_cards),
            [
                {"card_number": number, "first_name": normal_name(first),
                 "last_name": normal_name(last), "birth_date": born}
                for number, first, last, born in (
                    ("MM-1", "Ana", "Rivera", BORN),
                    ("MM-2", "Daniel", "Okafor", date(1975, 11, 2)),
                    ("MM-3", "Margaret", "Oyelaran", BORN),  # born the same day
                )
            ],
        )  # fmt: skip
        yield connection
    engine.dispose()


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("Ana", "Rivera"),
        ("ana", " RIVERA "),  # case and spacing
        ("Anaa", "Rivera"),  # a letter too many in the first name
        ("Ana", "Rivra"),  # a letter missing in the last name
        ("Ana", "Rievra"),  # two letters swapped
        ("Ama", "Rivera"),  # a wrong letter
    ],
)
def test_the_name_as_recorded_or_with_one_typo_finds_the_card(conn, first, last):
    assert cards_of(conn, first, last, BORN) == ["MM-1"]


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("Maria", "Rivera"),  # another first name
        ("Ana", "Romero"),  # another last name
        ("Daniel", "Okafor"),  # someone else's whole name (born another day)
        ("A", "Rivera"),  # an initial is not enough
    ],
)
def test_a_different_name_does_not_find_the_card(conn, first, last):
    assert cards_of(conn, first, last, BORN) == []


@pytest.mark.parametrize("born", [date(1980, 3, 15), date(1981, 3, 14), date(1980, 3, 13)])
def test_the_date_of_birth_is_still_exact(conn, born):
    assert cards_of(conn, "Ana", "Rivera", born) == []


def test_day_and_month_swapped_is_not_searched_as_patient_search_does(conn):
    assert cards_of(conn, "Daniel", "Okafor", date(1975, 11, 2)) == ["MM-2"]
    assert cards_of(conn, "Daniel", "Okafor", date(1975, 2, 11)) == []


def test_the_card_of_the_name_typed_exactly_hides_a_twins_a_letter_away(conn):
    conn.execute(
        sa.insert(mm_cards).values(
            card_number="MM-4", first_name="ANN", last_name="RIVERA", birth_date=BORN
        )
    )
    assert cards_of(conn, "Ana", "Rivera", BORN) == ["MM-1"]
    assert cards_of(conn, "Ann", "Rivera", BORN) == ["MM-4"]
    assert cards_of(conn, "Anne", "Rivera", BORN) == ["MM-4"]  # nearer Ann than Ana
