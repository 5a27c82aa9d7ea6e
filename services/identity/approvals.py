"""Resets of administrators waiting for a second administrator: the approvals list.

A read model projected from the accounts' streams (``CredentialResetRequested`` and its
decision), so administrators see every pending request in one list; deciding folds the
account's stream, which is always current, never this table. A request lapses at its
``expires_at`` (``resets.APPROVAL_HOURS``) without an event: the list leaves it out, and
approving it is refused.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.db import Database, UtcDateTime
from pmp.envelope import RecordedEvent
from pmp.projector import Projection
from services.identity.projections import directory
from services.identity.resets import CredentialAction
from services.identity.roles import Role

approvals_metadata = sa.MetaData()
reset_requests = sa.Table(
    "reset_requests",
    approvals_metadata,
    sa.Column("request_id", sa.Uuid, primary_key=True),
    sa.Column("account_id", sa.Uuid, nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("reason", sa.String(600), nullable=False),
    sa.Column("requested_by", sa.Uuid),
    sa.Column("requested_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("decided", sa.Boolean, nullable=False, default=False),
)


class ResetApprovals(Projection):
    name = "identity.reset_requests"
    sources = ("identity",)
    metadata = approvals_metadata

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        data = event.data
        if event.type == "CredentialResetRequested":
            conn.execute(
                reset_requests.insert().values(
                    request_id=uuid.UUID(str(data["request_id"])),
                    account_id=uuid.UUID(event.stream.removeprefix("account-")),
                    action=data["action"],
                    reason=data["reason"],
                    requested_by=_uuid(data["requested_by"]),
                    requested_at=event.metadata.occurred_at,
                    expires_at=datetime.fromisoformat(data["expires_at"]),
                    decided=False,
                )  # fmt: skip
            )
        elif event.type in {"CredentialResetApproved", "CredentialResetDeclined"}:
            conn.execute(
                reset_requests.update()
                .where(reset_requests.c.request_id == uuid.UUID(str(data["request_id"])))
                .values(decided=True)
            )


class ResetRequests:
    def __init__(self, db: Database):
        self.db = db

    def pending(self, now: datetime) -> list[dict[str, Any]]:
        """Requests neither decided nor lapsed, oldest first, with whose account and who
        asked (from the directory)."""
        target, requester = directory.alias("target"), directory.alias("requester")
        query = (
            sa.select(
                reset_requests,
                target.c.email,
                target.c.first_name,
                target.c.last_name,
                requester.c.first_name.label("by_first"),
                requester.c.last_name.label("by_last"),
            )  # fmt: skip
            .join(target, target.c.account_id == reset_requests.c.account_id, isouter=True)
            .join(requester, requester.c.account_id == reset_requests.c.requested_by, isouter=True)
            .where(reset_requests.c.decided.is_(False), reset_requests.c.expires_at > now)
            .order_by(reset_requests.c.requested_at)
            .limit(200)
        )
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "request_id": str(r.request_id),
                "account_id": str(r.account_id),
                "name": f"{r.first_name or ''} {r.last_name or ''}".strip() or r.email or "",
                "email": r.email or "",
                "role_title": Role.ADMINISTRATOR.title,
                "action": r.action,
                "action_title": CredentialAction(r.action).title,
                "reason": r.reason,
                "requested_by": str(r.requested_by) if r.requested_by else "",
                "requested_by_name": f"{r.by_first or ''} {r.by_last or ''}".strip(),
                "requested_at": r.requested_at.isoformat(),
                "expires_at": r.expires_at.isoformat(),
            }
            for r in rows
        ]


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(text))
    except ValueError:
        return None
