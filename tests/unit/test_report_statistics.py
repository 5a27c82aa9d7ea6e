"""The statistical report counts reports viewed per individual, role, day and month, in the
program's time zone, sorted by any column."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from pmp.db import open_sqlite
from pmp.envelope import Metadata, RecordedEvent
from services.query import statistics
from services.query.statistics import ReportStatistics, StatisticsRefused
from services.query.statistics_rpc import StatisticsRpc

JANE = {"account_id": "a1", "name": "Jane Doe", "role": "prescriber"}
SAM = {"account_id": "a2", "name": "Sam Roe", "role": "pharmacist"}
ANN = {"account_id": "a3", "name": "Ann Lee", "role": "prescriber"}


@pytest.fixture
def db(tmp_path: Path):
    db = open_sqlite(tmp_path / "query.sqlite")
    db.create(statistics.metadata)
    projection = ReportStatistics()  # America/New_York unless PMP_TIMEZONE says otherwise
    views = [(JANE, "2026-10-31T03:30:00"), (JANE, "2026-11-02T15:00:00"),
             (JANE, "2026-11-02T16:00:00"), (SAM, "2026-11-02T17:00:00"),
             (ANN, "2026-11-03T12:00:00")]  # fmt: skip
    with db.write() as conn:
        for n, (requester, at) in enumerate(views, start=1):
            data = {"requester": requester, "format": "page", "months": 12}
            when = datetime.fromisoformat(at).replace(tzinfo=UTC)
            event = RecordedEvent(uuid.uuid4(), "search-x", n, n, "PatientReportViewed", data,
                                  1, Metadata(occurred_at=when))  # fmt: skip
            projection.apply(conn, "query", event)
    return db


def report(db, **asked) -> dict:
    with db.read() as conn:
        return statistics.table(conn, **asked)


def test_reports_per_individual_most_first(db) -> None:
    found = report(db)
    assert found["columns"] == ["Name", "Role", "Reports"]
    assert found["rows"] == [["Jane Doe", "Prescriber", 3], ["Sam Roe", "Pharmacist", 1],
                             ["Ann Lee", "Prescriber", 1]]  # fmt: skip
    by_name = report(db, sort="Name", descending=False)["rows"]
    assert [row[0] for row in by_name] == ["Ann Lee", "Jane Doe", "Sam Roe"]


def test_reports_per_role_day_and_month_in_the_programs_time_zone(db) -> None:
    assert report(db, group="role")["rows"] == [["Prescriber", 2, 4], ["Pharmacist", 1, 1]]
    days = report(db, group="day", sort="Day", descending=False)["rows"]
    assert days[0] == ["2026-10-30", 1, 1]  # 03:30 UTC on the 31st is the 30th in Hartford
    assert report(db, group="month", sort="Month")["rows"] == [["2026-11", 3, 4],
                                                               ["2026-10", 1, 1]]  # fmt: skip


def test_a_period_narrows_the_count(db) -> None:
    found = report(db, first=date(2026, 11, 3), last=date(2026, 11, 30))
    assert found["rows"] == [["Ann Lee", "Prescriber", 1]]
    assert found["period"] == "2026-11-03 to 2026-11-30"


@pytest.mark.parametrize(
    ("asked", "named"),
    [({"group": "week"}, "group"), ({"sort": "Users"}, "sort"),
     ({"first": date(2026, 12, 1), "last": date(2026, 11, 1)}, "from")],
)  # fmt: skip
def test_a_grouping_or_sort_the_report_lacks_is_refused_by_name(db, asked, named) -> None:
    with pytest.raises(StatisticsRefused, match=f"^{named}:"):
        report(db, **asked)


def test_a_sort_column_is_named_in_any_case(db) -> None:
    found = report(db, sort="name", descending=False)
    assert found["sort"] == "Name" and found["rows"][0][0] == "Ann Lee"


def test_the_csv_never_lets_a_name_run_as_a_formula() -> None:
    class Asked(StatisticsRpc):
        def statistics(self, **asked) -> dict:
            rows = [['=HYPERLINK("x")', "Prescriber", 2], ["Jane Doe", "Pharmacist", 1]]
            return {"columns": ["Name", "Role", "Reports"], "rows": rows}

    lines = Asked().statistics_csv().splitlines()
    assert lines == ["Name,Role,Reports", "\"'=HYPERLINK(\"\"x\"\")\",Prescriber,2",
                     "Jane Doe,Pharmacist,1"]  # fmt: skip
