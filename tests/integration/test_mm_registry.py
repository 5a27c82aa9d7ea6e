"""The medical marijuana registry: ``pmp mm import`` as an operator meets it, and loading and
verifying through the whole system on both backends."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_cli import pmp

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "mm-registry-sample.csv"


def test_pmp_mm_import_stores_the_good_lines_reports_each_bad_one_and_is_idempotent(tmp_path):
    env = {"PMP_DATA_DIR": str(tmp_path / "var")}

    loaded = pmp("mm", "import", str(SAMPLE), env=env)
    assert loaded.returncode == 1, loaded.stderr  # some lines were refused
    out = loaded.stderr
    assert "3 registered" in out and "1 revoked" in out and "4 lines refused" in out
    assert 'line 5, birth_date "1990-02-30": Give a date as YYYY-MM-DD.' in out
    assert 'line 6, zip "6851"' in out
    assert "line 7, card_number" in out and "already on line 2" in out
    assert "line 8, practitioner: This field is required." in out
    assert _card_events(tmp_path / "var") == 4

    again = pmp("mm", "import", str(SAMPLE), env=env)
    assert "0 registered" in again.stderr and "3 unchanged" in again.stderr
    assert _card_events(tmp_path / "var") == 4

    good = tmp_path / "good.csv"
    good.write_text("\n".join(SAMPLE.read_text().splitlines()[:4]) + "\n")
    assert pmp("mm", "import", str(good), env=env).returncode == 0

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("card,name\n")
    refused = pmp("mm", "import", str(wrong), env=env)
    assert refused.returncode == 2 and "missing columns" in refused.stderr
    missing = pmp("mm", "import", str(tmp_path / "nope.csv"), env=env)
    assert missing.returncode == 2 and "no such file" in missing.stderr


def _card_events(data_dir: Path) -> int:
    import sqlalchemy as sa

    from pmp.db import open_sqlite
    from pmp.eventstore import events

    db = open_sqlite(data_dir / "query.sqlite")
    try:
        with db.read() as conn:
            return conn.execute(
                sa.select(sa.func.count()).where(events.c.stream.like("mm-card-%"))
            ).scalar_one()
    finally:
        db.dispose()
