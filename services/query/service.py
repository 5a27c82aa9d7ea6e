"""nameko entrypoints of the query service: patient search and the Patient History Report.

Each entrypoint checks who is asking (role and current standing, ``access.py``), reads the
patient history read model (``history.py``, ``lookups.py``), records what was looked at as an
event, and answers. A report is only given for persons a search by the same user found,
under that search's attested purpose: the search id ties the two together.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import sqlalchemy as sa

from pmp.calls import ServiceOf
from pmp.eventstore import EventStore
from pmp.logs import get_logger
from pmp.registry import load_or_refuse
from pmp.rpc import rpc
from pmp.service import EventSourcedService, ServiceKernel
from services.identity.roles import Permission, Role, require_granted
from services.query import access, lookups, report
from services.query.alerts import PatientAlerts
from services.query.documents import alerts_pdf, patient_history_pdf
from services.query.history import PatientHistory
from services.query.mm_rpc import RegistryRpc
from services.query.projections import PROJECTIONS, probe_arrivals
from services.query.schemas import Purpose, SearchRequest, query_events
from services.query.search import Criteria, birth_dates, matching_persons
from services.query.statistics import ReportStatistics
from services.query.statistics_rpc import StatisticsRpc

log = get_logger(__name__)


class NotFound(LookupError):
    """No such search for this user (or persons it did not find)."""


def search_stream(search_id: str) -> str:
    return f"search-{search_id}"


class QueryService(StatisticsRpc, RegistryRpc, EventSourcedService):
    name = "query"
    kernel = ServiceKernel(
        query_events(),
        projections=(*PROJECTIONS, PatientHistory, PatientAlerts, ReportStatistics),
    )
    registration = ServiceOf("registration")

    @rpc
    def probe_arrivals(self, probe_id: str) -> dict[str, str]:
        """When each service's probe ``probe_id`` was recorded, for those that arrived."""
        query = sa.select(probe_arrivals.c.service, probe_arrivals.c.recorded_at).where(
            probe_arrivals.c.probe_id == uuid.UUID(probe_id)
        )
        with self.kernel.db.read() as conn:
            return {row.service: row.recorded_at.isoformat() for row in conn.execute(query)}

    @rpc
    def search_patients(self, criteria: dict[str, Any], purpose: dict[str, Any]) -> dict[str, Any]:
        """The persons matching ``criteria`` (first and last name, date of birth; optional
        partial first name, ZIP, state), after the purpose is attested. ``outcome`` is
        "none", "one" or "several"; ``search_id`` opens their reports."""
        self._require(Permission.PATIENT_SEARCH)
        wanted = load_or_refuse(SearchRequest(), criteria, access.SearchRefused)
        attested = load_or_refuse(Purpose(), purpose, access.SearchRefused)
        requester, on_behalf_of = self._requester()
        chosen = access.attested_purpose(self.kernel.actor_role or "", attested, on_behalf_of)
        asked = Criteria(
            wanted["first_name"], wanted["last_name"], wanted["birth_date"],
            wanted["partial_first_name"], wanted["zip"], wanted["state"].upper(),
        )  # fmt: skip
        with self.kernel.db.read() as conn:
            found = matching_persons(asked, lookups.candidates(conn, birth_dates(asked)))
            persons = lookups.persons(conn, [person_id for person_id, _ in found])
        search_id = str(uuid.uuid4())
        event = {
            "search_id": search_id,
            "requester": requester,
            "on_behalf_of": on_behalf_of,
            "purpose": chosen,
            "person_ids": [p["person_id"] for p in persons],
            "criteria": {**SearchRequest().dump(wanted)},
        }
        self.kernel.append(search_stream(search_id), 0, [("PatientSearched", event)])
        log.info("patient searched", search_id=search_id, found=len(persons))
        outcome = "none" if not persons else "one" if len(persons) == 1 else "several"
        return {"search_id": search_id, "outcome": outcome, "persons": persons}

    @rpc
    def patient_report(
        self, search_id: str, person_ids: list[str], months: int = report.DEFAULT_MONTHS,
        format: str = "json",
    ) -> dict[str, Any]:  # fmt: skip
        """The Patient History Report of persons the search ``search_id`` found."""
        return self._report(search_id, person_ids, months, format if format == "page" else "json")

    @rpc
    def patient_report_pdf(
        self, search_id: str, person_ids: list[str], months: int = report.DEFAULT_MONTHS
    ) -> str:
        """The report as "Patient History Report.pdf" (base64)."""
        content = self._report(search_id, person_ids, months, "pdf")
        return base64.b64encode(patient_history_pdf(content)).decode()

    @rpc
    def patient_alerts_pdf(
        self, search_id: str, person_ids: list[str], months: int = report.DEFAULT_MONTHS
    ) -> str:
        """All of the patients' clinical alerts as one PDF document (base64)."""
        content = self._report(search_id, person_ids, months, "alerts_pdf")
        return base64.b64encode(alerts_pdf(content)).decode()

    # -- helpers ---------------------------------------------------------------------------

    def _require(self, permission: Permission) -> None:
        k = self.kernel
        require_granted(k.actor_role, k.actor_permissions, permission)

    def _requester(self) -> tuple[dict[str, str], dict[str, str] | None]:
        k = self.kernel
        requester = {"account_id": k.actor_id or "", "name": k.actor_name, "role": k.actor_role}
        if k.actor_role != Role.DELEGATE:
            return requester, None
        return requester, access.approved_supervisor(self.registration.my_registration())

    def _report(
        self, search_id: str, person_ids: list[str], months: Any, format: str
    ) -> dict[str, Any]:
        self._require(Permission.REPORT_VIEW)
        self._requester()  # a delegate whose supervisor withdrew approval sees no more reports
        searched = self._search(search_id)
        chosen = [str(p) for p in dict.fromkeys(person_ids or [])]
        if not chosen or not set(chosen) <= set(searched["person_ids"]):
            raise NotFound("Choose the patients from your search's results.")
        try:
            months = int(months)
        except (TypeError, ValueError):
            raise report.LookBackRefused("months: give a whole number of months.") from None
        now = self.kernel.clock()
        today = now.astimezone(self.kernel.settings.timezone).date()
        report.look_back(today, months)  # refused before anything is recorded
        with self.kernel.db.read() as conn:
            content = lookups.patient_report(
                conn, chosen, self.kernel.actor_id or "", today, months
            )
        viewed = {
            key: searched[key] for key in ("search_id", "requester", "on_behalf_of", "purpose")
        }
        viewed.update(person_ids=chosen, months=months, format=format)
        self.kernel.append(
            search_stream(search_id), EventStore.ANY, [("PatientReportViewed", viewed)]
        )
        log.info("patient report viewed", search_id=search_id, months=months, format=format)
        return {
            "title": "Patient History Report",
            "generated_at": now.isoformat(),
            "timezone": self.kernel.settings.timezone.key,
            "requester": {**viewed["requester"], "role_title": _title(viewed["requester"])},
            "on_behalf_of": _with_title(viewed["on_behalf_of"]),
            "purpose": viewed["purpose"]["text"],
            "search_id": search_id,
            **content,
        }

    def _search(self, search_id: str) -> dict[str, Any]:
        """The caller's own search ``search_id``."""
        try:
            uuid.UUID(str(search_id))
        except ValueError:
            raise NotFound("There is no such search.") from None
        events = self.kernel.store.read_stream(search_stream(str(search_id)))
        if not events or events[0].metadata.actor_id != self.kernel.actor_id:
            raise NotFound("There is no such search.")
        return events[0].data


def _title(person: dict[str, Any]) -> str:
    try:
        return Role(person.get("role") or "").title
    except ValueError:
        return ""


def _with_title(person: dict[str, Any] | None) -> dict[str, Any] | None:
    return {**person, "role_title": _title(person)} if person else None
