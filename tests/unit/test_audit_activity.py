"""The user activity report's lines and PDF, as an investigator reads them."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from services.audit.activity import DETAIL_LENGTH, activity_pdf, activity_rows
from tests.helpers.pdf import words_of

ACCOUNT = "5b0d6f0e-1111-4000-8000-000000000000"
NEW_YORK = ZoneInfo("America/New_York")


def entry(n: int, kind: str, data: dict, actor: str | None = ACCOUNT) -> dict:
    at = f"2026-11-22T14:0{n}:00+00:00"
    return {"n": n, "source": "query", "type": kind, "data": data,
            "metadata": {"occurred_at": at, "actor_id": actor}}  # fmt: skip


SEARCH = {
    "search_id": "a7c1d4b4-8e55-4c34-9a6b-1f7b3d2e6a10",
    "requester": {"account_id": ACCOUNT, "name": "Priya Okonkwo", "role": "prescriber"},
    "purpose": {"kind": "treatment", "case_number": ""},
    "person_ids": ["p-1", "p-2"],
    "criteria": {"first_name": "Maria", "last_name": "Garcia", "birth_date": "1970-03-02"},
}


def test_a_search_reads_as_who_searched_for_whom_in_the_program_s_time() -> None:
    (row,) = activity_rows([entry(1, "PatientSearched", SEARCH)], NEW_YORK)
    assert row["when"] == "2026-11-22 09:01:00"  # 14:01 UTC is 09:01 in New York
    assert row["by"] == f"Priya Okonkwo (prescriber), {ACCOUNT}"
    assert row["detail"] == (
        "search id: a7c1d4b4-8e55-4c34-9a6b-1f7b3d2e6a10; purpose: kind treatment; "
        "person ids: 2 items; criteria: first_name Maria, last_name Garcia, birth_date 1970-03-02"
    )


def test_a_card_verification_reads_as_the_officer_who_verified_and_the_result() -> None:
    verified = {
        "verification_id": "0b4f6d7e-2222-4000-8000-000000000000",
        "officer": {"account_id": ACCOUNT, "name": "Dana Kowalczyk", "role": "law_enforcement_mm"},
        "query": {"card_number": "MM-100001"},
        "result": "VALID",
        "card_numbers": ["MM-100001"],
    }
    (row,) = activity_rows([entry(1, "CardVerified", verified)], NEW_YORK)
    assert row["by"] == f"Dana Kowalczyk (law_enforcement_mm), {ACCOUNT}"
    assert "result: VALID" in row["detail"]


def test_what_the_system_did_and_long_details_are_said_plainly() -> None:
    long = {"note": "x" * 400}
    system, noted = activity_rows(
        [entry(1, "AccountLocked", {"account_id": ACCOUNT}, actor=None), entry(2, "Noted", long)],
        NEW_YORK,
    )
    assert system["by"] == "the system"
    assert len(noted["detail"]) == DETAIL_LENGTH and noted["detail"].endswith("…")
    assert noted["by"] == ACCOUNT  # no name in the event: the account id


def test_the_pdf_lists_every_line_oldest_first_and_says_when_there_is_none(tmp_path) -> None:
    rows = activity_rows(
        [entry(1, "PasswordChanged", {"via": "settings"}), entry(2, "PatientSearched", SEARCH)],
        NEW_YORK,
    )
    asked = {"account_id": "a-9", "name": "Alex Auditor", "role": "auditor",
             "role_title": "Auditor"}  # fmt: skip
    when = {"generated_at": "2026-11-22T15:00:00+00:00", "timezone": "America/New_York"}
    made = tmp_path / "report.pdf"
    made.write_bytes(activity_pdf(ACCOUNT, "2026-11-01 to 2026-11-22", rows, asked, **when))
    text = words_of(made)
    assert "User activity report Requested by Alex Auditor, Auditor" in text
    assert "Period: 2026-11-01 to 2026-11-22 Events: 2, oldest first." in text
    assert text.index("PasswordChanged") < text.index("PatientSearched") < text.index("Garcia")
    made.write_bytes(activity_pdf(ACCOUNT, "2026-11-01 to 2026-11-22", [], asked, **when))
    assert "Nothing was recorded for this account in this period." in words_of(made)
