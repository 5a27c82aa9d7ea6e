"""The identity service's read model: the directory administrators search and page through.

Fed from the service's own store by a projector, so it can be rebuilt by replay
(``pmp projections rebuild identity.directory``). Decisions never read it: they fold the
account's stream, which is always current.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.db import UtcDateTime
from pmp.envelope import RecordedEvent
from pmp.projector import Projection

directory_metadata = sa.MetaData()
directory = sa.Table(
    "account_directory",
    directory_metadata,
    sa.Column("account_id", sa.Uuid, primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, index=True),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("last_name", sa.String(100), nullable=False, index=True),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("last_sign_in_at", UtcDateTime()),
    sa.Column("locked_until", UtcDateTime()),
    sa.Column("mfa_enrolled", sa.Boolean, nullable=False, default=False),
)

_STATUS = {
    "AccountSuspended": "suspended",
    "AccountReinstated": "active",
    "AccountRevoked": "revoked",
    "AccountRemoved": "removed",
}


class AccountDirectory(Projection):
    name = "identity.directory"
    sources = ("identity",)
    metadata = directory_metadata

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        if not event.stream.startswith("account-"):
            return
        account_id = uuid.UUID(event.stream.removeprefix("account-"))
        at: datetime = event.metadata.occurred_at
        data = event.data
        if event.type == "AccountSignedUp":
            data = {**data, "first_name": "", "last_name": ""}  # names come with approval
        if event.type in {"AccountCreated", "AccountSignedUp"}:
            conn.execute(
                directory.insert().values(
                    account_id=account_id,
                    email=data["email"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    role=data["role"],
                    status="active",
                    created_at=at,
                    mfa_enrolled=False,
                )
            )
            return
        values = self._values(event.type, data, at)
        if values:
            conn.execute(
                directory.update().where(directory.c.account_id == account_id).values(**values)
            )

    @staticmethod
    def _values(kind: str, data: dict, at: datetime) -> dict:
        if kind in _STATUS:
            return {"status": _STATUS[kind]}
        if kind == "LoginSucceeded":
            return {"last_sign_in_at": at, "locked_until": None}
        if kind == "AccountLocked":
            return {"locked_until": datetime.fromisoformat(data["locked_until"])}
        if kind in {"AccountUnlocked", "PasswordChanged", "TemporaryPasswordIssued"}:
            return {"locked_until": None}
        if kind == "RoleChanged":
            return {"role": data["to_role"]}
        if kind == "AccessGranted":
            names = {"first_name": data["first_name"], "last_name": data["last_name"]}
            return {"role": data["role"], **names}
        if kind == "ProfileUpdated":
            return {"first_name": data["first_name"], "last_name": data["last_name"]}
        if kind == "MfaEnrolled":
            return {"mfa_enrolled": True}
        if kind == "MfaReset":
            return {"mfa_enrolled": False}
        return {}


PROJECTIONS: tuple[type[Projection], ...] = (AccountDirectory,)
