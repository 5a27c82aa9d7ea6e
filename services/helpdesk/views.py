"""A ticket as the person asking may see it: staff see everything; its user never sees
internal comments, account actions or the reasons staff gave each other."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pmp.envelope import RecordedEvent
from services.helpdesk.business_hours import SupportCalendar
from services.helpdesk.policy import CATEGORY_TITLES, HelpdeskPolicy
from services.helpdesk.ticket import (
    ACCESS_PROBLEMS,
    ACCOUNT_ACTIONS,
    ESCALATION_TARGETS,
    STATUS_TITLES,
    Actor,
    Ticket,
)


def ticket_view(
    t: Ticket,
    actor: Actor,
    history: list[RecordedEvent],
    calendar: SupportCalendar,
    policy: HelpdeskPolicy,
    now: datetime,
) -> dict[str, Any]:
    due = t.deadline(calendar, policy)
    until = t.reopen_until(policy)
    view: dict[str, Any] = {
        "ticket_id": t.ticket_id,
        "reference": t.reference,
        "subject": t.subject,
        "description": t.description,
        "contact_name": t.contact_name,
        "contact_email": t.contact_email,
        "contact_phone": t.contact_phone,
        "contact_confirmed": t.contact_confirmed,
        "account_id": t.account_id,
        "access_problem": t.access_problem,
        "access_problem_title": ACCESS_PROBLEMS.get(t.access_problem or ""),
        "status": t.status,
        "status_title": STATUS_TITLES[t.status],
        "category": t.category,
        "category_title": CATEGORY_TITLES.get(t.category or "", "Not yet categorised"),
        "assignee_id": t.assignee_id,
        "assignee_name": t.assignee_name,
        "escalated_to": t.escalated_to,
        "opened_at": _iso(t.opened_at),
        "first_response_at": _iso(t.first_response_at),
        "due_at": _iso(due),
        "past_target": t.past_target(calendar, policy, now),
        "resolved_at": _iso(t.resolved_at),
        "resolution": t.resolution,
        "closed_at": _iso(t.closed_at),
        "reopen_until": _iso(until),
        "can_reopen": until is not None and (actor.staff or now <= until),
        "attachments": [
            {k: a[k] for k in ("document_id", "filename", "content_type", "size")}
            for a in t.attachments
        ],
        "comments": [
            {
                "comment_id": c.comment_id,
                "body": c.body,
                "internal": c.internal,
                "from_staff": c.from_staff,
                "author_name": c.author_name if c.from_staff or actor.staff else "You",
                "at": c.at.isoformat(),
                "account_action": c.account_action,
            }
            for c in t.comments_for(actor)
        ],
        "history": [h for e in history if (h := _line(e, actor)) is not None],
    }
    return view


def _line(event: RecordedEvent, actor: Actor) -> dict[str, Any] | None:
    d, kind = event.data, event.type
    staff = actor.staff
    if kind == "TicketOpened":
        text = "Opened"
    elif kind == "TicketCategorised":
        text = f"Categorised {CATEGORY_TITLES[d['category']]}"
    elif kind == "TicketAssigned":
        text = f"Assigned to {d['assignee_name']}" if d["assignee_id"] else "Unassigned"
    elif kind == "TicketCommented":
        if d["internal"] and not staff:
            return None
        action = d.get("account_action")
        if action:
            text = f"{ACCOUNT_ACTIONS[action]}: {d['body']}"
        else:
            where = "internal comment" if d["internal"] else "reply"
            text = f"{'Staff' if d['from_staff'] else 'User'} {where}"
    elif kind == "TicketEscalated":
        text = f"Escalated to {ESCALATION_TARGETS[d['to']]}"
        text += f": {d['reason']}" if staff else ""
    elif kind == "TicketResolved":
        text = "Resolved"
    elif kind == "TicketReopened":
        text = f"Reopened: {d['reason']}"
    elif kind == "TicketClosed":
        text = "Closed" + (f": {d['reason']}" if d["reason"] and staff else "")
    elif kind == "TicketContactConfirmed":
        text = "Contact address confirmed: the user is emailed from now on"
    else:
        return None
    return {"at": event.metadata.occurred_at.isoformat(), "type": kind, "text": text}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
