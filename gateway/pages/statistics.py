"""The administrators' statistics page: reports requested, grouped and sortable, with the
same table to download as CSV or PDF."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from nameko.exceptions import RemoteError
from werkzeug.wrappers import Request, Response

from gateway.api.statistics import StatisticsApi, statistics_request
from gateway.http import http
from gateway.pages.accounts import form_error
from services.identity.roles import Permission

GROUPS = {
    "individual": "Per individual",
    "role": "Per role",
    "day": "Per day",
    "month": "Per month",
}


class StatisticsPages(StatisticsApi):
    """Mixin of the gateway service (see ``gateway/service.py``); the API comes with it."""

    @http("GET", "/admin/statistics")
    def statistics_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.STATISTICS_VIEW)
        asked = statistics_request(request)
        status, error = 200, None
        try:
            found = self._statistics("statistics", request)
        except RemoteError as exc:
            status, error = form_error(exc)
            found = self.services.call("query", "statistics", self.settings.rpc_timeout)

        def link(**changes: Any) -> str:
            chosen = {"group": found["group"], "sort": found["sort"],
                      "descending": int(found["descending"]), "from": asked["date_from"] or "",
                      "to": asked["date_to"] or "", **changes}  # fmt: skip
            return "/admin/statistics?" + urlencode(chosen)

        return self.auth.page(
            request, "statistics.html", principal, status=status, title="Statistics",
            active="statistics", found=found, asked=asked, groups=GROUPS, link=link,
            error=error, query=request.query_string.decode(),
        )  # fmt: skip

    @http("GET", "/admin/statistics.csv")
    def statistics_csv_page(self, request: Request) -> Response:
        self.auth.require(request, self.services, Permission.STATISTICS_VIEW)
        return self._statistics_download(request, "csv")

    @http("GET", "/admin/statistics.pdf")
    def statistics_pdf_page(self, request: Request) -> Response:
        self.auth.require(request, self.services, Permission.STATISTICS_VIEW)
        return self._statistics_download(request, "pdf")
