"""The query service's PDFs: the Patient History Report, the patient's alerts, and the
administrators' statistical report.

Each is a ``pmp.report_pdf.ReportDocument``: every page says who asked and when, with the
confidentiality line and the requester's watermark. The report leads with what a clinician
needs first: the alerts, the summary figures and the MME/day chart; the dispensations
follow, their table header repeated on every page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from pmp.day_steps import daily
from pmp.pdf import DARK, GREY, NAVY, PALE, RED
from pmp.report_pdf import FONT, ReportDocument, table_pdf

NO_ENGINE = (
    "The alert engine has not reported yet: alerts are not evaluated. "
    "This is not the same as 'no alerts'."
)
AMBER = (180, 110, 0)
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


def patient_history_pdf(report: dict[str, Any]) -> bytes:
    """ "Patient History Report.pdf": patients, alerts, summary, chart, then dispensations."""
    pdf = _start(report)
    _patients(pdf, report)
    _alerts(pdf, report["alerts"])
    _summary(pdf, report)
    _chart(pdf, daily(report["mme_steps"], report["from"], report["to"]))
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
    period = f"Period: {table.get('period') or 'all time'}"
    return table_pdf(table, [period], "No reports were requested in this period.")


def _start(report: dict[str, Any]) -> ReportDocument:
    pdf = ReportDocument(
        report["title"], report["requester"], report["generated_at"], report["timezone"]
    )
    pdf.set_font(FONT, "", 8.5)
    pdf.set_text_color(*GREY)
    looked = f"Look-back: {report['months']} months, {report['from']} to {report['to']}"
    purpose = f"{report.get('purpose_label', 'Purpose attested')}: {report.get('purpose') or ''}"
    behalf = report.get("on_behalf_of")
    if behalf:
        purpose += f"; on behalf of {behalf.get('name')}, {behalf.get('role_title') or ''}"
    pdf.cell(0, 0.16, f"{looked}.  {purpose}.", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*DARK)
    return pdf


def _patients(pdf: ReportDocument, report: dict[str, Any]) -> None:
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


def _alerts(pdf: ReportDocument, alerts: dict[str, Any], evidence: bool = False) -> None:
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


def _box(pdf: ReportDocument, text: str, colour: tuple[int, int, int]) -> None:
    pdf.set_draw_color(*colour)
    pdf.set_text_color(*colour)
    pdf.set_font(FONT, "B", 9.5)
    pdf.set_line_width(0.02)
    pdf.multi_cell(0, 0.3, text, border=1, padding=(0.02, 0.1), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*DARK)


def _summary(pdf: ReportDocument, report: dict[str, Any]) -> None:
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


def _chart(pdf: ReportDocument, points: Sequence[dict[str, Any]]) -> None:
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


def _dispensations(pdf: ReportDocument, rows: Sequence[dict[str, Any]]) -> None:
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
    pdf.table(COLUMNS, lines, WIDTHS)
    pdf.ln(0.04)
    pdf.set_font(FONT, "", 7.5)
    pdf.set_text_color(*GREY)
    pdf.text_line(
        "MME/day: strength per unit x (quantity / days supply) x the CDC factor; "
        "buprenorphine and non-opioids are not counted.",
        7.5,
    )
