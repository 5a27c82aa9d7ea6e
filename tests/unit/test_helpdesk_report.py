"""The monthly help-desk report (counts and medians per category, measured as the targets
count) and the emails the help desk sends (never for internal comments)."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from pmp.config import load_settings
from services.helpdesk.business_hours import SupportCalendar
from services.helpdesk.links import LinkInvalid, read_link
from services.helpdesk.mail import messages
from services.helpdesk.policy import HelpdeskPolicy
from services.helpdesk.report import Opened, month_bounds, monthly_report, report_csv
from services.helpdesk.ticket import Ticket

NY = ZoneInfo("America/New_York")
CALENDAR = SupportCalendar(NY)
POLICY = HelpdeskPolicy()
FRIDAY_16 = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)  # 16:00 in New York
H = timedelta(hours=1)


def test_month_bounds_are_the_programs_days():
    start, end = month_bounds("2026-12", CALENDAR)
    assert start.astimezone(UTC) == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2027, 1, 1, 5, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_bounds("December", CALENDAR)


def test_counts_and_medians_by_category():
    tickets = [
        # High, answered Monday 9:00 (2 support hours), resolved Monday 12:00 (5 hours).
        Opened("high", FRIDAY_16, FRIDAY_16 + 65 * H, FRIDAY_16 + 68 * H),
        Opened("high", FRIDAY_16, FRIDAY_16 + 66 * H, None),  # 3 support hours
        Opened("high", FRIDAY_16, None, None),
        # Critical counts every hour: 65 hours, late (target 1 hour).
        Opened("critical", FRIDAY_16, FRIDAY_16 + 65 * H, FRIDAY_16 + 70 * H),
        Opened(None, FRIDAY_16, None, None),
    ]
    report = monthly_report("2026-12", tickets, CALENDAR, POLICY)
    rows = {r["category"]: r for r in report["rows"]}
    assert report["total"] == 5
    assert rows["high"]["opened"] == 3 and rows["high"]["responded"] == 2
    assert rows["high"]["median_first_response_hours"] == 2.5
    assert rows["high"]["median_resolution_hours"] == 5.0
    assert rows["high"]["responded_late"] == 0
    assert rows["critical"]["median_first_response_hours"] == 65.0
    assert rows["critical"]["responded_late"] == 1
    assert rows["uncategorised"]["opened"] == 1
    assert rows["low"]["opened"] == 0 and rows["low"]["median_resolution_hours"] is None
    table = list(csv.reader(io.StringIO(report_csv(report))))
    assert table[0][:3] == ["Month", "Category", "Hours counted"]
    assert table[2][:5] == ["2026-12", "High", "support hours", "4", "3"]
    assert len(table) == 6


def _event(kind: str, data: dict) -> SimpleNamespace:
    return SimpleNamespace(
        type=kind, data=data, event_id=uuid.uuid4(), metadata=SimpleNamespace(occurred_at=FRIDAY_16)
    )


def test_emails_to_the_user():
    ticket_id = str(uuid.uuid4())
    ticket = Ticket(ticket_id, subject="Locked out", contact_name="Pat",
                    contact_email="pat@example.org", account_id=str(uuid.uuid4()))  # fmt: skip
    settings = SimpleNamespace(public_url="https://pmp.example.gov", timezone=NY)
    reply = {"internal": False, "from_staff": True, "author_name": "Dana", "body": "Unlocked."}
    [(subject, body)] = messages(_event("TicketCommented", reply), ticket, settings, 14)
    assert subject == f"Reply to your help desk request {ticket.reference}: Locked out"
    assert "Dana replied" in body and "Unlocked." in body and f"/help/tickets/{ticket_id}" in body
    internal = {**reply, "internal": True}
    assert messages(_event("TicketCommented", internal), ticket, settings, 14) == []
    own = {**reply, "from_staff": False}
    assert messages(_event("TicketCommented", own), ticket, settings, 14) == []
    [(subject, body)] = messages(_event("TicketOpened", {}), ticket, settings, 14)
    assert ticket.reference in subject
    [(subject, body)] = messages(_event("TicketResolved", {"resolution": "Done"}), ticket,
                                 settings, 14)  # fmt: skip
    assert "resolved" in subject and "reopen it by December 18, 2026" in body


def test_a_signed_out_openers_address_gets_only_a_link_until_it_is_confirmed():
    settings = load_settings({"PMP_SECRET_KEY": "k", "PMP_PUBLIC_URL": "https://pmp.example.gov"})
    ticket_id = str(uuid.uuid4())
    contact = {"name": "Pat", "email": "pat@example.org"}
    [opened] = Ticket.open(ticket_id, "Locked out", "Help", contact, contact_confirmed=False)
    ticket = Ticket(ticket_id)
    ticket.apply(*opened, FRIDAY_16)
    assert not ticket.contact_confirmed
    [(subject, body)] = messages(_event(*opened), ticket, settings, 14)
    assert subject == f"Confirm your email address for help desk request {ticket.reference}"
    token = re.search(r"https://pmp\.example\.gov/help/confirm/(\S+)", body).group(1)
    assert read_link(settings, token) == ticket_id
    with pytest.raises(LinkInvalid):
        read_link(settings, token[:-1] + ("0" if token[-1] != "0" else "1"))
    reply = {"internal": False, "from_staff": True, "author_name": "Dana", "body": "Hello"}
    assert messages(_event("TicketCommented", reply), ticket, settings, 14) == []
    assert messages(_event("TicketResolved", {"resolution": "Done"}), ticket, settings, 14) == []

    [confirmed] = ticket.confirm_contact()
    ticket.apply(*confirmed, FRIDAY_16)
    assert ticket.confirm_contact() == []  # a second use changes nothing
    [(subject, _)] = messages(_event(*confirmed), ticket, settings, 14)
    assert subject == f"We received your help desk request {ticket.reference}"
    assert messages(_event("TicketCommented", reply), ticket, settings, 14)
    assert "help/confirm" not in str(opened)  # nothing of the link in the event
