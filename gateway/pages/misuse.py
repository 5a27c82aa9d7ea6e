"""The investigators' misuse signals page: each signal the misuse watch raised, newest
first, with who searched, the patient, and the evidence in a sentence; by kind and by user."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from nameko.exceptions import RemoteError
from werkzeug.wrappers import Request, Response

from gateway.api.misuse import MisuseApi
from gateway.http import http
from gateway.parameters import page_number
from services.audit.signals import KINDS
from services.identity.roles import Permission

PAGE_SIZE = 50


class MisusePages(MisuseApi):
    """Mixin of the gateway service (see ``gateway/service.py``); the API comes with it."""

    @http("GET", "/audit/signals")
    def misuse_signals_page(self, request: Request) -> Response:
        principal = self.auth.require(request, self.services, Permission.AUDIT_READ)
        kind = (request.args.get("kind") or "").strip()
        account = (request.args.get("account") or "").strip()
        page = page_number(request)
        status, error = 200, None
        found: dict[str, Any] = {"total": 0, "page": 1, "page_size": PAGE_SIZE, "signals": []}
        try:
            found = self.services.call(
                "audit", "misuse_signals", self.settings.rpc_timeout, kind=kind or None,
                account=account or None, page=page, page_size=PAGE_SIZE,
            )  # fmt: skip
        except RemoteError as exc:
            if exc.exc_type != "SignalsRefused":
                raise
            status, error = 422, str(exc.value)
        zone = self.settings.timezone
        for signal in found["signals"]:
            raised = datetime.fromisoformat(signal["raised_at"])
            signal["raised_time"] = raised
            signal["activity_link"] = "/audit/activity?" + urlencode(
                {"account": signal["account_id"]}
            )
            if signal["person_id"]:
                local = raised.astimezone(zone)
                signal["as_of_link"] = "/audit/as-of?" + urlencode({
                    "person": signal["person_id"], "day": local.date().isoformat(),
                    "time": f"{local:%H:%M}",
                })  # fmt: skip
        pages = max(1, -(-found["total"] // found["page_size"]))

        def page_link(number: int) -> str:
            chosen = {"kind": kind, "account": account, "page": number}
            return "/audit/signals?" + urlencode({k: v for k, v in chosen.items() if v})

        return self.auth.page(
            request, "audit_signals.html", principal, status=status, title="Misuse signals",
            active="signals", kinds=KINDS, kind=kind, account=account, error=error,
            found=found, pages=pages, page_link=page_link,
        )  # fmt: skip
