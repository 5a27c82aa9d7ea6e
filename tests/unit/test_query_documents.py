"""The report, alerts and statistics PDFs, read back as their readers see them: text through
pdftotext, pages rendered through pdftoppm."""

from __future__ import annotations

import re
import subprocess
import zlib
from datetime import date, timedelta
from io import BytesIO
from pathlib import Path

import pytest
from fontTools import ttLib

from pmp.report_pdf import CONFIDENTIAL
from services.alerts.policy import AlertPolicy
from services.query.documents import NO_ENGINE, alerts_pdf, patient_history_pdf, statistics_pdf

REQUESTER = {"account_id": "5b0d6f0e-1111-4000-8000-000000000000", "name": "Jane Doe",
             "role": "prescriber", "role_title": "Prescriber"}  # fmt: skip


ALERT = {"title": "High daily MME", "level": "alert", "start": "2026-02-20",
         "end": "2026-03-10", "ongoing": False, "dispensation_ids": ["d1", "d2"],
         "evidence": "Peak 120.00 MME/day on 2026-03-02; 19 days at or above 50"}  # fmt: skip


def sample_report(rows: int = 120, **changes) -> dict:
    today = date(2026, 11, 22)
    lines = [
        {"dispensation_id": f"d{n}", "filled": (today - timedelta(days=3 * n)).isoformat(),
         "written": (today - timedelta(days=3 * n + 1)).isoformat(),
         "drug": "OXYCODONE HCL", "strength": "10 MG", "quantity": "120", "days_supply": 30,
         "mme_per_day": 60.0, "refill": 0, "prescriber": "MIRANDA, TINA (DEA FM2326862)",
         "pharmacy": "FOWLER PHARMACY (NCPDP 3631544)", "payment": "Commercial insurance",
         "schedule": 2, "drug_class": "opioid", "active": n < 10}
        for n in range(rows)
    ]  # fmt: skip
    for line in lines[7:8]:  # a row to look for
        line.update(drug="HYDROCODONE BITARTRATE AND ACETAMINOPHEN", strength="5 MG",
                    filled="2026-09-01")  # fmt: skip
    report = {
        "title": "Patient History Report", "generated_at": "2026-11-22T15:04:05+00:00",
        "timezone": "America/New_York", "requester": REQUESTER, "on_behalf_of": None,
        "purpose": "Current patient under my care", "search_id": "s", "months": 12,
        "from": "2025-11-23", "to": "2026-11-22",
        "patients": [{"person_id": "p", "names": ["ИВАНОВ, БОРИС", "ΠΑΠΑΔΟΠΟΥΛΟΣ, ΝΙΚΟΣ"],
                      "birth_dates": ["1948-05-12"], "genders": ["M"],
                      "addresses": ["3085 Highland Ave, North Olmsted, OH 44032"]}],
        "alerts": {"engine": "not connected", "items": []},
        "summary": {"dispensations": rows, "prescribers": 1, "pharmacies": 1,
                    "active_prescriptions": 1, "current_mme": 60.0, "peak_mme": 120.0,
                    "peak_mme_date": "2026-03-02"},
        "mme_steps": [((date(2025, 11, 23) + timedelta(days=n)).isoformat(),
                       60.0 if n % 40 < 30 else 120.0) for n in range(365) if n % 40 in (0, 30)],
        "dispensations": lines,
    }  # fmt: skip
    return {**report, **changes}


def pages(pdf: bytes, folder: Path) -> list[str]:
    path = folder / "doc.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout  # fmt: skip
    return [page for page in text.split("\f") if page.strip()]


def test_the_report_reads_as_a_clinician_needs_it(tmp_path: Path) -> None:
    read = pages(patient_history_pdf(sample_report()), tmp_path)
    first = read[0]
    assert "ИВАНОВ, БОРИС" in first and "ΠΑΠΑΔΟΠΟΥΛΟΣ" in first  # any script renders
    assert "Requested by Jane Doe, Prescriber" in first
    assert first.index("Clinical alerts") < first.index("Summary") < first.index("MME/day over")
    assert "The alert engine has not reported yet" in first
    assert len(read) >= 3, "120 dispensations span pages"
    for number, page in enumerate(read, start=1):
        assert CONFIDENTIAL in page
        assert "Jane Doe · Prescriber" in page.replace("\n", " ") or "Jane Doe" in page
        assert f"Page {number} of {len(read)}" in page
    table_pages = [p for p in read if "OXYCODONE HCL" in p]
    assert all("Drug and strength" in p and "Prescriber" in p for p in table_pages)
    joined = "\n".join(read)
    assert "2026-09-01" in joined and "HYDROCODONE BITARTRATE" in joined


def test_every_page_renders(tmp_path: Path) -> None:
    (tmp_path / "doc.pdf").write_bytes(patient_history_pdf(sample_report()))
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(tmp_path / "doc.pdf"),
                    str(tmp_path / "page")], check=True)  # fmt: skip
    rendered = sorted(tmp_path.glob("page*.png"))
    assert len(rendered) >= 3 and all(p.stat().st_size > 2000 for p in rendered)


@pytest.mark.parametrize(
    ("alerts", "said"),
    [
        ({"engine": "not connected", "items": []}, "This is not the same as 'no alerts'"),
        ({"engine": "connected", "items": []}, "No clinical alerts in this look-back."),
        ({"engine": "connected", "items": [ALERT]}, "Peak 120.00 MME/day on 2026-03-02"),
        ({"engine": "connected", "items": [], "snoozed": [{**ALERT, "snoozed": {
            "reason": "Hospice care", "until": "2026-12-22"}}]},
         "Set aside by you until 2026-12-22: Hospice care"),
        ({"engine": "connected", "items": [ALERT], "policy": AlertPolicy().to_json()},
         "Evaluated with: 5 prescribers and 5 pharmacies within 90 days"),
    ],
)  # fmt: skip
def test_the_alerts_document_never_passes_silence_off_as_no_alerts(alerts, said, tmp_path):
    text = " ".join(pages(alerts_pdf(sample_report(alerts=alerts)), tmp_path))
    assert said in " ".join(text.split())


def test_an_empty_look_back_says_so(tmp_path: Path) -> None:
    report = sample_report(rows=0, mme_steps=[])
    assert "No dispensations in the look-back period." in pages(patient_history_pdf(report),
                                                                tmp_path)[0]  # fmt: skip


def test_the_statistics_report_lists_its_rows(tmp_path: Path) -> None:
    table = {"title": "Statistical report: reports requested per individual",
             "generated_at": "2026-11-22T15:04:05+00:00", "timezone": "America/New_York",
             "requester": REQUESTER, "period": "all time", "columns": ["Name", "Role", "Reports"],
             "rows": [["Jane Doe", "Prescriber", 12], ["Sam Roe", "Pharmacist", 3]]}  # fmt: skip
    text = pages(statistics_pdf(table), tmp_path)[0]
    assert "Sam Roe" in text and "Reports" in text and NO_ENGINE not in text


def test_documents_made_one_after_another_each_show_their_own_names(tmp_path: Path) -> None:
    """Fonts are parsed once per process; each document must still embed the glyphs it uses."""
    greek = sample_report(rows=3)
    hebrew = sample_report(rows=3, patients=[{**greek["patients"][0], "names": ["כהן, דוד"]}])
    latin = sample_report(rows=3, patients=[{**greek["patients"][0], "names": ["ZOË, ÅSA"]}])
    for report, name in ((greek, "ΠΑΠΑΔΟΠΟΥΛΟΣ"), (hebrew, "דוד"), (latin, "ZOË, ÅSA"),
                         (greek, "ИВАНОВ")):  # fmt: skip
        assert name in pages(patient_history_pdf(report), tmp_path)[0]


def drawable(pdf: bytes) -> set[str]:
    """The characters the PDF's embedded font programs have an outline for."""
    found: set[str] = set()
    for head, body in re.findall(
        rb"<<([^>]*?/Length1[^>]*?)>>\s*stream\r?\n(.*?)endstream", pdf, re.S
    ):
        font = ttLib.TTFont(BytesIO(zlib.decompress(body) if b"Flate" in head else body))
        glyphs = font["glyf"]
        found |= {chr(code) for code, name in font.getBestCmap().items()
                  if glyphs[name].numberOfContours != 0}  # fmt: skip
    return found


def test_a_document_embeds_an_outline_for_every_letter_it_draws() -> None:
    """Latin-only documents are subset from a small face; the requester's name in the
    watermark of a one-page report is drawn last (its footer), in another script here."""
    report = sample_report(rows=3, patients=[{**sample_report()["patients"][0],
                                               "names": ["LOVE, BRYAN"]}])  # fmt: skip
    latin = drawable(patient_history_pdf(report))
    assert set("LOVEBRYAN0123456789Pag") <= latin
    cyrillic = {**REQUESTER, "name": "Жанна Доу"}
    drawn = drawable(patient_history_pdf({**report, "requester": cyrillic}))
    assert set("ЖаннаДоу") <= drawn, "the watermark's letters have outlines"


def test_a_long_cell_wraps_inside_its_column(tmp_path: Path) -> None:
    report = sample_report(rows=2)
    long_name = "WOLFESCHLEGELSTEINHAUSENBERGERDORFF-KLINIKUM PHARMACY OF GREATER NORTH OLMSTED"
    report["dispensations"][0]["pharmacy"] = long_name
    first = pages(patient_history_pdf(report), tmp_path)[0]
    rows = [line for line in first.splitlines() if "Commercial insurance" in line]
    assert len(rows) == 2, "the payment column is still beside each row, not pushed away"
    assert "WOLFESCHLEGEL" in first and "OLMSTED" in first
    assert long_name.split()[0] not in first, "a word wider than its column is cut, not overflowing"
