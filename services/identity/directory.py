"""What administrators read about accounts: the searchable directory and one account's
details with its history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pmp.db import Database
from pmp.envelope import RecordedEvent
from services.identity.domain import Account, IdentityPolicy
from services.identity.projections import directory
from services.identity.roles import Role, grantable_to

PAGE_SIZE = 25
HISTORY_SHOWN = 200  # newest events of an account on its page

# What an administrator may see of each event; hashes and sealed secrets stay out.
_SHOWN_FIELDS = {
    "reason", "from_role", "to_role", "via", "client", "method", "locked_until", "permission",
    "action", "refusal", "ticket_id", "letter_id", "delivery", "request_id", "requested_by",
}  # fmt: skip


class AccountQueries:
    def __init__(self, db: Database):
        self.db = db

    def search(self, query: str, status: str, role: str, page: int) -> dict[str, Any]:
        """Accounts whose name or email contains ``query``, newest first, a page at a time."""
        conditions = []
        for word in query.split():
            like = f"%{word.lower()}%"
            conditions.append(
                sa.or_(
                    sa.func.lower(directory.c.email).like(like),
                    sa.func.lower(directory.c.first_name).like(like),
                    sa.func.lower(directory.c.last_name).like(like),
                )
            )
        if status:
            conditions.append(directory.c.status == status)
        if role:
            conditions.append(directory.c.role == role)
        where = sa.and_(sa.true(), *conditions)
        page = max(1, int(page))
        with self.db.read() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(directory).where(where))
            total = total.scalar_one()
            rows = conn.execute(
                sa.select(directory)
                .where(where)
                .order_by(directory.c.last_name, directory.c.first_name, directory.c.email)
                .limit(PAGE_SIZE)
                .offset((page - 1) * PAGE_SIZE)
            ).all()
        return {
            "accounts": [_listed(row) for row in rows],
            "total": total,
            "page": page,
            "page_size": PAGE_SIZE,
        }

    @staticmethod
    def details(
        account: Account, history: Sequence[RecordedEvent], now: datetime, policy: IdentityPolicy
    ) -> dict[str, Any]:
        expires = None
        if account.password_set_at and account.temporary_until is None:
            expires = (account.password_set_at + policy.max_age(account.role)).isoformat()
        return {
            "account_id": account.account_id,
            "email": account.email,
            "first_name": account.first_name,
            "last_name": account.last_name,
            "role": account.role,
            "role_title": Role(account.role).title,
            "address_lines": account.address_lines,
            "status": account.status,
            "locked": account.locked(now),
            "locked_until": account.locked_until.isoformat() if account.locked(now) else None,
            "failed_attempts": account.failed_attempts,
            "mfa_enrolled": account.mfa_secret is not None,
            "security_questions_set": bool(account.answer_hashes),
            "temporary_password_until": account.temporary_until.isoformat()
            if account.temporary_until
            else None,
            "password_expires_at": expires,
            "open_sessions": len(account.sessions),
            # beyond the role: what an administrator granted (in force only if grantable)
            "granted_permissions": sorted(account.granted),
            "grantable_permissions": sorted(str(p) for p in grantable_to(account.role)),
            "created_at": account.created_at.isoformat() if account.created_at else None,
            "last_sign_in_at": account.last_sign_in_at.isoformat()
            if account.last_sign_in_at
            else None,
            "history": [_history_entry(e) for e in reversed(history[-HISTORY_SHOWN:])],
        }


def _listed(row: sa.Row) -> dict[str, Any]:
    return {
        "account_id": str(row.account_id),
        "email": row.email,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "role": row.role,
        "role_title": Role(row.role).title,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "last_sign_in_at": row.last_sign_in_at.isoformat() if row.last_sign_in_at else None,
        "locked_until": row.locked_until.isoformat() if row.locked_until else None,
        "mfa_enrolled": row.mfa_enrolled,
    }


def _history_entry(event: RecordedEvent) -> dict[str, Any]:
    return {
        "type": event.type,
        "occurred_at": event.metadata.occurred_at.isoformat(),
        "actor_id": event.metadata.actor_id,
        "actor_role": event.metadata.actor_role,
        "details": {k: v for k, v in event.data.items() if k in _SHOWN_FIELDS},
    }
