"""The query service's PDFs: the Patient History Report, the patient's alerts, and the
administrators' statistical report.

Every page says who asked and when, carries the confidentiality line, and has the
requester's identity across it as a light watermark, so a printed page that leaves the
clinic still says whose it was. The report leads with what a clinician needs first: the
alerts, the summary figures and the MME/day chart; the dispensations follow, their table
header repeated on every page. DejaVu Sans (embedded) shows names in any script sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fpdf import FPDF

from pmp.pdf import AGENCY, DARK, GREY, NAVY, PALE, PROGRAM, RED, long_datetime
from services.query.fonts_cache import embed_font
from services.query.pdf_table import Table, TableColours

FONTS = Path(__file__).parent / "fonts"
FONT = "DejaVu"
CONFIDENTIAL = "Confidential: may not be shared, including with the patient."
NO_ENGINE = (
    "The alert engine has not reported yet: alerts are not evaluated. "
    "This is not the same as 'no alerts'."
)
AMBER = (180, 110, 0)
WATERMARK = (120, 120, 130)  # drawn over the content at low opacity
COLUMNS = (
    "Filled",
    "Written",
    "Drug and strength",
    "Qty",
    "Days",
    "MME/day",
    "Refill",
    "Prescriber",
    "Pharmacy",
    "Payment",
)
WIDTHS = (0.66, 0.66, 1.66, 0.36, 0.38, 0.6, 0.42, 2.0, 2.1, 1.16)  # inches, landscape letter


class _Document(FPDF):
    """Landscape letter pages with the requester's header, footer and watermark."""

    def __init__(self, title: str, requester: dict[str, Any], generated: str, zone: str):
        super().__init__(orientation="landscape", unit="in", format="letter")
        embed_font(self, FONT, "", FONTS / "DejaVuSansCondensed.ttf")
        embed_font(self, FONT, "B", FONTS / "DejaVuSansCondensed-Bold.ttf")
        self.document_title = title
        timezone = ZoneInfo(zone)
        moment = datetime.fromisoformat(generated)
        self.asked = (
            f"Requested by {requester.get('name') or 'unknown'}, "
            f"{requester.get('role_title') or requester.get('role') or ''}, "
            f"on {long_datetime(moment, timezone)}"
        )
        self.mark = (
            f"{requester.get('name') or ''} · {requester.get('role_title') or ''} · "
            f"{str(requester.get('account_id') or '')[:8]} · {moment.astimezone(timezone):%Y-%m-%d}"
        )
        self.set_title(title)
        self.set_author(AGENCY)
        self.set_creator("CPMRS")
        self.set_lang("en-US")
        self.set_margins(0.5, 0.5, 0.5)
        self.set_auto_page_break(auto=True, margin=0.6)
        self.alias_nb_pages()
        self.add_page()

    def header(self) -> None:
        self.set_xy(self.l_margin, 0.35)
        self.set_font(FONT, "B", 8)
        self.set_text_color(*NAVY)
        self.cell(0, 0.16, PROGRAM, new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, "B", 13)
        self.set_text_color(*DARK)
        self.cell(0, 0.24, self.document_title, new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, "", 8)
        self.set_text_color(*GREY)
        self.cell(0, 0.16, self.asked, new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(*NAVY)
        self.set_line_width(0.01)
        self.line(self.l_margin, self.get_y() + 0.04, self.w - self.r_margin, self.get_y() + 0.04)
        self.set_y(self.get_y() + 0.12)
        self.set_text_color(*DARK)

    def _watermark(self) -> None:
        """Across the page, over everything, faint enough to read through."""
        with self.local_context(fill_opacity=0.13):
            self.set_font(FONT, "B", 30)
            self.set_text_color(*WATERMARK)
            width = self.get_string_width(self.mark)
            with self.rotation(28, x=self.w / 2, y=self.h / 2):
                self.text(self.w / 2 - width / 2, self.h / 2, self.mark)

    def footer(self) -> None:
        self._watermark()
        self.set_y(-0.45)
        self.set_font(FONT, "B", 8)
        self.set_text_color(*RED)
        self.cell(0, 0.16, CONFIDENTIAL, align="L")
        self.set_font(FONT, "", 8)
        self.set_text_color(*GREY)
        self.set_x(self.l_margin)
        self.cell(0, 0.16, f"Page {self.page_no()} of {{nb}}", align="R")

    def heading(self, text: str) -> None:
        if self.get_y() > self.h - 1.4:
            self.add_page()
        self.ln(0.08)
        self.set_font(FONT, "B", 10.5)
        self.set_text_color(*NAVY)
        self.cell(0, 0.22, text, new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(*DARK)

    def text_line(self, text: str, size: float = 9, bold: bool = False) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        self.multi_cell(0, size / 60, text, new_x="LMARGIN", new_y="NEXT")


def patient_history_pdf(report: dict[str, Any]) -> bytes:
    """ "Patient History Report.pdf": patients, alerts, summary, chart, then dispensations."""
    pdf = _start(report)
    _patients(pdf, report)
    _alerts(pdf, report["alerts"])
    _summary(pdf, report)
    _chart(pdf, report["mme_chart"])
    _dispensations(pdf, report["dispensations"])
    return bytes(pdf.output())


def alerts_pdf(report: dict[str, Any]) -> bytes:
    """All of the patients' clinical alerts with their evidence, in one document."""
    pdf = _start({**report, "title": "Patient alerts"})
    _patients(pdf, report)
    _alerts(pdf, report["alerts"], evidence=True)
    return bytes(pdf.output())


def statistics_pdf(table: dict[str, Any]) -> bytes:
    """The administrators' statistical report: one table, its header on every page."""
    pdf = _Document(table["title"], table["requester"], table["generated_at"], table["timezone"])
    pdf.text_line(f"Period: {table.get('period') or 'all time'}")
    pdf.ln(0.08)
    _table(pdf, table["columns"], [[str(v) for v in row] for row in table["rows"]], None)
    if not table["rows"]:
        pdf.text_line("No reports were requested in this period.")
    return bytes(pdf.output())


def _start(report: dict[str, Any]) -> _Document:
    pdf = _Document(
        report["title"], report["requester"], report["generated_at"], report["timezone"]
    )
    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(*GREY)
    looked = f"Look-back: {report['months']} months, {report['from']} to {report['to']}"
    purpose = f"Purpose attested: {report.get('purpose') or ''}"
    behalf = report.get("on_behalf_of")
    if behalf:
        purpose += f"; on behalf of {behalf.get('name')}, {behalf.get('role_title') or ''}"
    pdf.cell(0, 0.16, f"{looked}.  {purpose}.", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*DARK)
    return pdf


def _patients(pdf: _Document, report: dict[str, Any]) -> None:
    pdf.heading("Patient" if len(report["patients"]) == 1 else "Patients (combined)")
    for person in report["patients"]:
        born = ", ".join(person.get("birth_dates") or [])
        pdf.text_line(
            " / ".join(person.get("names") or ["(no name)"]) + f"   born {born}", 10, bold=True
        )
        pdf.set_text_color(*GREY)
        for address in person.get("addresses") or []:
            pdf.text_line(address, 8.5)
        pdf.set_text_color(*DARK)


def _alerts(pdf: _Document, alerts: dict[str, Any], evidence: bool = False) -> None:
    """Alerts before cautions; what the requester set aside is listed too, marked so."""
    pdf.heading("Clinical alerts")
    if alerts.get("engine") != "connected":
        _box(pdf, NO_ENGINE, AMBER)
        return
    items = [*alerts.get("items", []), *alerts.get("snoozed", [])]
    if not items:
        _box(pdf, "No clinical alerts in this look-back.", NAVY)
    for item in items:
        colour = RED if item.get("level") == "alert" else AMBER
        when = (
            f"ongoing since {item['start']}"
            if item.get("ongoing")
            else f"{item['start']} to {item['end']}"
        )
        pdf.set_text_color(*colour)
        pdf.text_line(f"{item['level'].upper()}: {item['title']} ({when})", 9.5, True)
        pdf.set_text_color(*DARK)
        pdf.text_line(str(item.get("evidence") or ""), 8.5)
        if item.get("snoozed"):
            pdf.set_text_color(*GREY)
            pdf.text_line(
                f"Set aside by you until {item['snoozed']['until']}: {item['snoozed']['reason']}", 8
            )
            pdf.set_text_color(*DARK)
        if evidence and item.get("dispensation_ids"):
            pdf.set_text_color(*GREY)
            pdf.text_line(
                f"{len(item['dispensation_ids'])} dispensations involved; they are "
                "listed in the Patient History Report.",
                8,
            )
            pdf.set_text_color(*DARK)
        pdf.ln(0.04)
    policy = alerts.get("policy")
    if policy:
        pdf.set_text_color(*GREY)
        pdf.text_line(
            f"Evaluated with: {policy['provider_prescribers']} prescribers and "
            f"{policy['provider_pharmacies']} pharmacies within {policy['provider_window_days']} "
            f"days; MME/day caution {policy['mme_caution']:g}, alert {policy['mme_alert']:g}; "
            f"long-term use over {policy['long_term_days']} days.",
            7.5,
        )
        pdf.set_text_color(*DARK)


def _box(pdf: _Document, text: str, colour: tuple[int, int, int]) -> None:
    pdf.set_draw_color(*colour)
    pdf.set_text_color(*colour)
    pdf.set_font(FONT, "B", 9.5)
    pdf.set_line_width(0.02)
    pdf.multi_cell(0, 0.3, text, border=1, padding=(0.02, 0.1), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*DARK)


def _summary(pdf: _Document, report: dict[str, Any]) -> None:
    s = report["summary"]
    peak = f"{s['peak_mme']:,.0f}" + (f" on {s['peak_mme_date']}" if s["peak_mme_date"] else "")
    cards = [
        ("Dispensations", f"{s['dispensations']:,}"),
        ("Prescribers", f"{s['prescribers']:,}"),
        ("Pharmacies", f"{s['pharmacies']:,}"),
        ("Active prescriptions", f"{s['active_prescriptions']:,}"),
        ("MME/day now", f"{s['current_mme']:,.0f}"),
        ("Peak MME/day", peak),
    ]
    pdf.heading("Summary")
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / len(cards)
    top = pdf.get_y()
    for n, (label, value) in enumerate(cards):
        x = pdf.l_margin + n * width
        pdf.set_fill_color(*PALE)
        pdf.rect(x + 0.03, top, width - 0.06, 0.55, style="F")
        pdf.set_xy(x + 0.1, top + 0.06)
        pdf.set_font(FONT, "", 7.5)
        pdf.set_text_color(*GREY)
        pdf.cell(width - 0.2, 0.14, label)
        pdf.set_xy(x + 0.1, top + 0.22)
        pdf.set_font(FONT, "B", 13 if len(value) < 12 else 9.5)
        pdf.set_text_color(*DARK)
        pdf.cell(width - 0.2, 0.26, value)
    pdf.set_xy(pdf.l_margin, top + 0.62)


def _chart(pdf: _Document, points: Sequence[dict[str, Any]]) -> None:
    """MME/day over the look-back, with the 50 (caution) and 90 (alert) lines."""
    if not points:
        return
    pdf.heading("MME/day over the look-back")
    if pdf.get_y() + 1.9 > pdf.h - 0.6:
        pdf.add_page()
    left, top = pdf.l_margin + 0.45, pdf.get_y() + 0.05
    width, height = pdf.w - pdf.r_margin - left - 0.25, 1.5
    values = [float(p["mme"]) for p in points]
    ceiling = max(100.0, max(values) * 1.1)

    def y(value: float) -> float:
        return top + height - height * value / ceiling

    def x(index: int) -> float:
        return left + width * index / max(len(points) - 1, 1)

    pdf.set_draw_color(*GREY)
    pdf.set_line_width(0.008)
    pdf.line(left, top, left, top + height)
    pdf.line(left, top + height, left + width, top + height)
    pdf.set_font(FONT, "", 7)
    pdf.set_text_color(*GREY)
    for tick in _ticks(ceiling):
        pdf.text(left - 0.35, y(tick) + 0.03, f"{tick:>5,.0f}")
    pdf.set_text_color(*GREY)
    for index, point in enumerate(points):
        day = date.fromisoformat(point["date"])
        if day.day == 1:
            pdf.text(x(index) - 0.12, top + height + 0.14, f"{day:%b %y}")
    area = [(x(0), top + height)] + [(x(i), y(v)) for i, v in enumerate(values)]
    area.append((x(len(values) - 1), top + height))
    pdf.set_fill_color(190, 205, 230)
    pdf.set_draw_color(*NAVY)
    pdf.polygon(area, style="F")
    pdf.set_line_width(0.012)
    pdf.polyline([(x(i), y(v)) for i, v in enumerate(values)])
    for threshold, colour in ((50, AMBER), (90, RED)):  # over the area, so never hidden
        pdf.set_draw_color(*colour)
        with pdf.local_context():
            pdf.set_dash_pattern(dash=0.05, gap=0.04)
            pdf.line(left, y(threshold), left + width, y(threshold))
        pdf.set_text_color(*colour)
        pdf.text(left + width + 0.04, y(threshold) + 0.03, str(threshold))
    pdf.set_text_color(*DARK)
    pdf.set_xy(pdf.l_margin, top + height + 0.25)


def _ticks(ceiling: float) -> list[float]:
    step = next(s for s in (25, 50, 100, 200, 500, 1000, 5000) if ceiling / s <= 6)
    return [float(n * step) for n in range(int(ceiling // step) + 1)]


def _dispensations(pdf: _Document, rows: Sequence[dict[str, Any]]) -> None:
    pdf.heading(f"Dispensations ({len(rows):,}), newest first")
    if not rows:
        pdf.text_line("No dispensations in the look-back period.")
        return
    lines = [
        [
            r["filled"],
            r["written"] or "",
            f"{r['drug']} {r['strength']}".strip(),
            str(r["quantity"]),
            str(r["days_supply"] or ""),
            f"{r['mme_per_day']:,.1f}" if r["mme_per_day"] is not None else "",
            str(r["refill"] if r["refill"] is not None else ""),
            r["prescriber"],
            r["pharmacy"],
            r["payment"],
        ]
        for r in rows
    ]
    _table(pdf, COLUMNS, lines, WIDTHS)
    pdf.ln(0.04)
    pdf.set_font(FONT, "", 7.5)
    pdf.set_text_color(*GREY)
    pdf.text_line(
        "MME/day: strength per unit x (quantity / days supply) x the CDC factor; "
        "buprenorphine and non-opioids are not counted.",
        7.5,
    )


def _table(pdf: _Document, columns: Sequence[str], rows: Sequence[Sequence[str]], widths) -> None:
    colours = TableColours(heading=NAVY, shade=PALE, rule=(200, 200, 205), text=DARK)
    Table(pdf, FONT, columns, widths).draw(rows, colours)
