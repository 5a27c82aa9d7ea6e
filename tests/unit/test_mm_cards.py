"""The medical marijuana registry card: validity on a day, reconciling rows, reading files."""

from __future__ import annotations

from datetime import date

import pytest

from services.query.mm_cards import (
    COLUMNS,
    EXPIRED,
    NOT_FOUND,
    REVOKED,
    VALID,
    Card,
    CardRow,
    FileRefused,
    RowError,
    RowRefused,
    read_rows,
    reconcile,
    validity,
)
from services.query.schemas import query_events

TODAY = date(2026, 12, 4)
SOURCE = {"filename": "registry.csv", "line": 2}
HEADER = ",".join(COLUMNS)
GOOD = {
    "card_number": "MM-100001",
    "last_name": "Rivera",
    "first_name": "Ana",
    "birth_date": "1980-03-14",
    "address": "12 Elm St",
    "city": "Hartford",
    "state": "CT",
    "zip": "06103",
    "practitioner": "Dr. Lee Park",
    "practitioner_npi": "1234567893",
    "caregiver": "",
    "issue_date": "2026-01-10",
    "expiry_date": "2027-01-09",
    "status": "active",
}


def line(**changes: str) -> str:
    return ",".join({**GOOD, **changes}[c] for c in COLUMNS)


def rows(*lines: str, today: date = TODAY) -> list:
    return list(read_rows([HEADER, *lines], today))


def row(**changes: str) -> CardRow:
    (found,) = rows(line(**changes))
    assert isinstance(found, CardRow), found
    return found


def fold(*changes) -> Card | None:
    return Card.fold("MM-100001", changes)


def applied(card: Card | None, r: CardRow) -> Card | None:
    events = [] if card is None else list(card._events)  # type: ignore[attr-defined]
    events += reconcile(card, r, SOURCE)
    folded = Card.fold(r.card_number, events)
    if folded is not None:
        folded._events = events  # type: ignore[attr-defined]
    return folded


# -- validity ---------------------------------------------------------------------------------


def test_a_card_is_valid_through_its_expiry_day_and_expired_the_day_after():
    card = applied(None, row())
    assert validity(card, date(2027, 1, 9)) == VALID
    assert validity(card, date(2027, 1, 10)) == EXPIRED


def test_no_card_is_not_found():
    assert validity(None, TODAY) == NOT_FOUND


def test_a_revoked_card_is_revoked_even_before_it_expires():
    card = applied(None, row(status="revoked"))
    assert validity(card, TODAY) == REVOKED


def test_a_revoked_card_renewed_later_is_valid_again():
    card = applied(None, row(status="revoked"))
    card = applied(card, row(issue_date="2026-12-01", expiry_date="2027-11-30"))
    assert not card.revoked
    assert validity(card, TODAY) == VALID
    assert [kind for kind, _ in card._events] == ["CardRegistered", "CardRevoked", "CardRenewed"]


def test_a_revoked_card_is_not_reinstated_by_a_row_without_a_new_certification():
    card = applied(None, row(status="revoked"))
    with pytest.raises(RowRefused) as refused:
        reconcile(card, row(), SOURCE)
    assert refused.value.field == "status"


# -- reconciling ------------------------------------------------------------------------------


def test_the_same_row_twice_changes_nothing_the_second_time():
    card = applied(None, row())
    assert reconcile(card, row(), SOURCE) == []
    revoked = applied(None, row(status="revoked"))
    assert reconcile(revoked, row(status="revoked"), SOURCE) == []


def test_a_later_issue_date_renews_and_other_differences_are_corrections():
    card = applied(None, row())
    changes = reconcile(
        card,
        row(issue_date="2026-12-01", expiry_date="2027-11-30", caregiver="Sam Rivera"),
        SOURCE,
    )
    assert [kind for kind, _ in changes] == ["CardRenewed", "CardDetailsCorrected"]
    assert changes[0][1]["expiry_date"] == "2027-11-30"
    assert changes[1][1]["changes"] == {"caregiver": "Sam Rivera"}


def test_an_older_row_than_the_cards_certification_is_refused():
    card = applied(None, row(issue_date="2026-12-01", expiry_date="2027-11-30"))
    with pytest.raises(RowRefused) as refused:
        reconcile(card, row(), SOURCE)
    assert refused.value.field == "issue_date"


def test_a_corrected_expiry_with_the_same_issue_date_is_a_correction():
    card = applied(None, row())
    changes = reconcile(card, row(expiry_date="2026-12-31"), SOURCE)
    assert changes == [
        (
            "CardDetailsCorrected",
            {
                "card_number": "MM-100001",
                "changes": {"expiry_date": "2026-12-31"},
                "source": SOURCE,
            },
        )  # fmt: skip
    ]
    card = applied(card, row(expiry_date="2026-12-31"))
    assert validity(card, date(2027, 1, 1)) == EXPIRED


def test_every_change_is_accepted_by_the_event_schemas():
    registry = query_events()
    card = applied(None, row(status="revoked"))
    card = applied(card, row(issue_date="2026-12-01", expiry_date="2027-11-30", city="Bristol"))
    for kind, data in card._events:
        registry.validate(kind, data)


# -- reading a file ---------------------------------------------------------------------------


def errors_of(found) -> list[tuple[int, str]]:
    assert isinstance(found, list), found
    return [(e.line, e.field) for e in found]


def test_a_good_line_is_read_with_its_dates_and_line_number():
    (found,) = rows(line(card_number="mm-100001", state="ct"))
    assert found.line == 2 and found.card_number == "MM-100001"
    assert found.values["birth_date"] == date(1980, 3, 14)
    assert found.values["state"] == "CT" and found.status == "active"


@pytest.mark.parametrize("name", ["card_number", "last_name", "first_name", "birth_date",
                                  "address", "city", "state", "zip", "practitioner",
                                  "issue_date", "expiry_date", "status"])  # fmt: skip
def test_each_required_field_missing_is_named(name):
    (found,) = rows(line(**{name: ""}))
    assert (2, name) in errors_of(found)


def test_caregiver_and_npi_may_be_empty():
    assert isinstance(rows(line(caregiver="", practitioner_npi=""))[0], CardRow)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("birth_date", "14/03/1980"),
        ("birth_date", "1980-02-30"),
        ("birth_date", "20260101"),
        ("issue_date", "2026-13-01"),
        ("expiry_date", "next year"),
        ("zip", "6103"),
        ("state", "Conn"),
        ("practitioner_npi", "12345"),
        ("status", "suspended"),
        ("card_number", "MM 1"),
        ("last_name", "R1vera"),
    ],
)
def test_bad_values_are_named_by_line_and_field(name, value):
    (found,) = rows(line(**{name: value}))
    assert errors_of(found) == [(2, name)]
    assert found[0].value == value


def test_dates_that_do_not_fit_together_are_refused():
    (expires_first,) = rows(line(issue_date="2026-05-01", expiry_date="2026-04-30"))
    assert errors_of(expires_first) == [(2, "expiry_date")]
    assert isinstance(rows(line(issue_date="2026-05-01", expiry_date="2026-05-01"))[0], CardRow)
    (future,) = rows(line(issue_date="2026-12-05", expiry_date="2027-12-05"))
    assert errors_of(future) == [(2, "issue_date")]
    assert isinstance(rows(line(issue_date="2026-12-04", expiry_date="2027-12-04"))[0], CardRow)
    (unborn,) = rows(line(birth_date="2026-12-05"))
    assert errors_of(unborn) == [(2, "birth_date")]


def test_a_row_that_says_expired_must_have_expired():
    (still_running,) = rows(line(status="expired", expiry_date="2026-12-04"))
    assert errors_of(still_running) == [(2, "status")]
    assert isinstance(rows(line(status="expired", expiry_date="2026-12-03"))[0], CardRow)


def test_a_card_number_already_in_the_file_is_refused_on_its_second_line():
    found = rows(line(), line(), line(card_number="MM-100002"))
    assert isinstance(found[0], CardRow) and isinstance(found[2], CardRow)
    assert errors_of(found[1]) == [(3, "card_number")]
    assert "line 2" in found[1][0].message


def test_a_bad_line_does_not_stop_the_lines_after_it_and_blank_lines_are_skipped():
    found = rows(line(zip="x"), "", line(card_number="MM-100002"), "a,b")
    assert errors_of(found[0]) == [(2, "zip")]
    assert isinstance(found[1], CardRow) and found[1].line == 4
    assert errors_of(found[2]) == [(5, "_line")]


def test_a_quoted_field_with_a_comma_is_one_field():
    (found,) = rows(line(address='"12 Elm St, Apt 3"'))
    assert found.values["address"] == "12 Elm St, Apt 3"


def test_a_file_without_the_documented_header_is_refused():
    with pytest.raises(FileRefused, match="missing columns: status"):
        list(read_rows([",".join(COLUMNS[:-1])], TODAY))
    with pytest.raises(FileRefused, match="unknown columns: ssn"):
        list(read_rows([HEADER + ",ssn"], TODAY))
    with pytest.raises(FileRefused, match="empty"):
        list(read_rows([], TODAY))


def test_an_error_reads_as_a_report_line():
    assert RowError(3, "zip", "x", "Give 5 digits.").as_dict() == {
        "line": 3, "field": "zip", "value": "x", "message": "Give 5 digits.",
    }  # fmt: skip
