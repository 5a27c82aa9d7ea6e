"""Patient search and the Patient History Report pages, for clinicians in a hurry.

The search form asks first for the purpose the user's role attests (a delegate's is their
supervisor's, on whose behalf they search); several candidates are shown side by side to
choose from; the report leads with the alerts, then the figures, the MME/day chart and the
dispensations. The chart is drawn here as SVG: no script runs on our pages.
"""

from __future__ import annotations

import math
import uuid
from datetime import date
from typing import Any
from urllib.parse import urlencode

from nameko.exceptions import RemoteError
from werkzeug.wrappers import Request, Response

from gateway.api.patients import ALERTS_PDF, REPORT_PDF, PatientsApi, report_request
from gateway.http import http
from gateway.pages.accounts import parse_time, redirect
from gateway.pages.alerts import REASONS
from gateway.problems import Problem
from pmp.day_steps import daily
from services.alerts.schemas import SNOOZE_MONTHS
from services.identity.roles import ROLE_TITLES, NotAuthorized, Permission, Role
from services.query import access
from services.query.report import DEFAULT_MONTHS
from services.query.schemas import PURPOSES
from services.registration.forms import FORM_ERROR, errors_in

LOOK_BACKS = [(str(months), f"{months} months") for months in (3, 6, 12, 24, 36)]
TEXT_FIELDS = ("first_name", "last_name", "birth_date", "zip", "state", "case_number")
REQUIRED = {
    "first_name": "Enter the patient's first name.",
    "last_name": "Enter the patient's last name.",
    "birth_date": "Enter the patient's date of birth.",
}
# Where the search service's refusals are shown: the purpose at the attestation.
SHOWN_AT = {"purpose": "attested", "kind": "attested"}
REFERENCE_MME = (50, 90)  # MME/day at which the CDC guideline asks for caution, and more
CHART = {"width": 760, "height": 250, "left": 46, "right": 96, "top": 14, "bottom": 30}


class PatientPages(PatientsApi):
    """Mixin of the gateway service (see ``gateway/service.py``); the API comes with it."""

    @http("GET", "/search")
    def search_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.PATIENT_SEARCH)
        return self._search_page(request, principal, self._attestation(principal))

    @http("POST", "/search")
    def search(self, request: Request) -> Response:
        self.auth.check_csrf(request)
        principal = self.auth.require(request, self.services, Permission.PATIENT_SEARCH)
        attestation = self._attestation(principal)
        if attestation["refused"]:
            raise Problem(403, "You may not search yet", attestation["refused"])
        values: dict[str, Any] = {name: request.form.get(name, "").strip() for name in TEXT_FIELDS}
        values["partial_first_name"] = request.form.get("partial_first_name") == "1"
        values["attested"] = request.form.get("attested") == "1"
        errors = _missing(values, attestation["kind"])
        if errors:
            return self._search_page(request, principal, attestation, 422, values, errors)
        try:
            found = self._query(
                "search_patients",
                criteria={
                    "first_name": values["first_name"],
                    "last_name": values["last_name"],
                    "birth_date": values["birth_date"],
                    "partial_first_name": values["partial_first_name"],
                    "zip": values["zip"],
                    "state": values["state"],
                },
                purpose={
                    "kind": attestation["kind"],
                    "attested": True,
                    "case_number": values["case_number"],
                },
            )
        except RemoteError as exc:
            if exc.exc_type != "SearchRefused":
                raise
            named = errors_in(str(exc.value), {*TEXT_FIELDS, *SHOWN_AT, "attested"})
            form_error = named.pop(FORM_ERROR, None)
            errors = {SHOWN_AT.get(name, name): message for name, message in named.items()}
            return self._search_page(
                request, principal, attestation, 422, values, errors, form_error
            )
        if found["outcome"] == "none":
            return self._search_page(request, principal, attestation, 200, values, none_found=True)
        if found["outcome"] == "one":
            [person] = found["persons"]
            query = report_query([person["person_id"]], DEFAULT_MONTHS)
            return redirect(f"/searches/{found['search_id']}/report?{query}")
        return self.auth.page(
            request, "search_results.html", principal, title="Multiple patients identified",
            active="search", found=found, values=values, look_backs=LOOK_BACKS,
            default_months=DEFAULT_MONTHS,
        )  # fmt: skip

    @http("GET", "/searches/<uuid:search_id>/report")
    def patient_report_page(self, request: Request, search_id: uuid.UUID) -> Response:
        principal = self.auth.require(request, self.services, Permission.REPORT_VIEW)
        asked = report_request(request)
        if not asked["person_ids"]:
            raise Problem(
                422,
                "Choose a patient",
                "Go back to the search results, tick the patient and choose View report.",
            )
        report = self._query("patient_report", search_id=str(search_id), format="page", **asked)
        query = report_query([p["person_id"] for p in report["patients"]], report["months"])
        return self.auth.page(
            request, "patient_report.html", principal, title="Patient History Report",
            active="search", report=report, generated=parse_time(report["generated_at"]),
            chart=mme_chart(daily(report["mme_steps"], report["from"], report["to"])),
            query=query, look_backs=LOOK_BACKS,
            snooze_months=SNOOZE_MONTHS, reasons=REASONS,
            acknowledged=_date_or_none(request.args.get("acknowledged")),
            here=f"/searches/{search_id}/report?{query}",
        )  # fmt: skip

    @http("GET", "/searches/<uuid:search_id>/report.pdf")
    def patient_report_pdf(self, request: Request, search_id: uuid.UUID) -> Response:
        self.auth.require(request, self.services, Permission.REPORT_VIEW)
        return self._report_pdf(request, str(search_id), "patient_report_pdf", REPORT_PDF)

    @http("GET", "/searches/<uuid:search_id>/alerts.pdf")
    def patient_alerts_pdf(self, request: Request, search_id: uuid.UUID) -> Response:
        self.auth.require(request, self.services, Permission.REPORT_VIEW)
        return self._report_pdf(request, str(search_id), "patient_alerts_pdf", ALERTS_PDF)

    # -- helpers ---------------------------------------------------------------------------

    def _attestation(self, principal: dict[str, Any]) -> dict[str, Any]:
        """The purpose this user attests before a search: their role's, or a delegate's
        supervisor's (once the supervisor approved them), named on the form."""
        role, supervisor = principal["role"], None
        if role == Role.DELEGATE:
            registration = self.services.call(
                "registration", "my_registration", self.settings.rpc_timeout
            )
            try:
                supervisor = access.approved_supervisor(registration)
            except NotAuthorized as exc:
                return {"refused": str(exc), "kind": None}
            role = supervisor["role"]
            supervisor["role_title"] = ROLE_TITLES.get(role, "")
        kind = access.PURPOSE_OF_ROLE.get(role)
        if kind is None:
            return {"refused": "Your role may not search patients.", "kind": None}
        return {"refused": None, "kind": kind, "text": PURPOSES[kind], "on_behalf_of": supervisor}

    def _search_page(
        self,
        request: Request,
        principal: dict[str, Any],
        attestation: dict[str, Any],
        status: int = 200,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        form_error: str | None = None,
        none_found: bool = False,
    ) -> Response:
        return self.auth.page(
            request, "search.html", principal, status=status, title="Patient search",
            active="search", attestation=attestation, values=values or {}, errors=errors or {},
            form_error=form_error, none_found=none_found,
        )  # fmt: skip


def _missing(values: dict[str, Any], kind: str) -> dict[str, str]:
    """What the form needs before a search is worth sending, in words for the field."""
    errors = {name: message for name, message in REQUIRED.items() if not values[name]}
    if not values["attested"]:
        errors["attested"] = "Tick the box to attest the purpose of this search."
    if kind == "investigation" and not values["case_number"]:
        errors["case_number"] = "Enter the case number of the investigation."
    return errors


def _date_or_none(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return None


def report_query(person_ids: list[str], months: int) -> str:
    """The query string of a report of the persons over ``months`` (and of its PDFs)."""
    return urlencode([("person", p) for p in person_ids] + [("months", months)])


def mme_chart(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The MME/day series as SVG geometry: the line and the area under it, the reference
    lines at 50 and 90 MME/day, and a label at the start of each month (fewer when long;
    January with its year)."""
    left, top = CHART["left"], CHART["top"]
    plot_w = CHART["width"] - left - CHART["right"]
    plot_h = CHART["height"] - top - CHART["bottom"]
    ceiling, step = _scale(max((p["mme"] for p in points), default=0.0))
    last = max(len(points) - 1, 1)

    def x(i: int) -> float:
        return round(left + plot_w * i / last, 1)

    def y(value: float) -> float:
        return round(top + plot_h * (1 - value / ceiling), 1)

    line = " ".join(f"{x(i)},{y(p['mme'])}" for i, p in enumerate(points))
    days = [date.fromisoformat(p["date"]) for p in points]
    firsts = [i for i, d in enumerate(days) if d.day == 1]
    every = math.ceil(len(firsts) / 12) or 1
    months = [
        {"x": x(i), "label": days[i].strftime("%b %Y" if days[i].month == 1 else "%b")}
        for i in firsts[::every]
    ]
    return {
        **CHART,
        "plot_right": left + plot_w,
        "baseline": y(0),
        "line": line,
        "area": f"M{x(0)},{y(0)} L{line.replace(' ', ' L')} L{x(len(points) - 1)},{y(0)} Z"
        if points
        else "",
        "grid": [{"y": y(v), "label": f"{v:g}"} for v in range(0, int(ceiling) + 1, step)],
        "references": [{"y": y(v), "label": f"{v} MME/day"} for v in REFERENCE_MME],
        "months": months,
    }


def _scale(peak: float) -> tuple[float, int]:
    """The top of the chart (room above the peak, and always above 90) and its grid step."""
    wanted = max(peak * 1.1, 100.0)
    step = next((s for s in (25, 50, 100, 250, 500, 1000) if wanted / s <= 5), 2500)
    return float(math.ceil(wanted / step) * step), step
