"""The mail room's queue: credential letters waiting to be printed and posted.

A temporary password for a registrant is never shown to whoever asked for it: the letter is
printed in the mail room and posted to the address on file. Until it is printed the
password is kept here sealed with the deployment's key (never in an event, not even
sealed: the audit trail keeps events for good), and the seal is destroyed when the letter is
printed, so a printed letter cannot be printed again. The account's events decide whether a
letter is still good (``Account.letter_in_force``); this table only holds what to print and
where each letter stands, like ``session_tokens``. It is written before the events: a row
whose events never got appended carries no password in force and is never printed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from pmp.db import Database, UtcDateTime

metadata = sa.MetaData()

credential_letters = sa.Table(
    "credential_letters",
    metadata,
    sa.Column("letter_id", sa.Uuid, primary_key=True),
    sa.Column("account_id", sa.Uuid, nullable=False, index=True),
    sa.Column("sealed_password", sa.Text),  # None once printed (or void)
    sa.Column("queued_at", UtcDateTime(), nullable=False),
    sa.Column("printed_at", UtcDateTime()),
    sa.Column("posted_at", UtcDateTime()),
)

WAITING, PRINTED, POSTED = "waiting", "printed", "posted"


@dataclass(frozen=True)
class QueuedLetter:
    letter_id: str
    account_id: str
    sealed_password: str | None
    queued_at: datetime
    printed_at: datetime | None
    posted_at: datetime | None

    @property
    def stage(self) -> str:
        if self.posted_at:
            return POSTED
        return PRINTED if self.printed_at else WAITING


class LetterQueue:
    def __init__(self, db: Database):
        self.db = db

    def add(self, letter_id: str, account_id: str, sealed_password: str, now: datetime) -> None:
        with self.db.write() as conn:
            conn.execute(
                credential_letters.insert().values(
                    letter_id=uuid.UUID(letter_id),
                    account_id=uuid.UUID(account_id),
                    sealed_password=sealed_password,
                    queued_at=now,
                )  # fmt: skip
            )

    def get(self, letter_id: str) -> QueuedLetter | None:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(credential_letters).where(
                    credential_letters.c.letter_id == uuid.UUID(letter_id)
                )
            ).first()
        return _letter(row) if row else None

    def not_posted(self) -> list[QueuedLetter]:
        """Letters to print or post, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute(
                sa.select(credential_letters)
                .where(credential_letters.c.posted_at.is_(None))
                .order_by(credential_letters.c.queued_at)
                .limit(500)
            ).all()
        return [_letter(r) for r in rows]

    def printed(self, letter_id: str, now: datetime) -> bool:
        """Destroy the seal; False if another printed it first."""
        with self.db.write() as conn:
            done = conn.execute(
                credential_letters.update()
                .where(credential_letters.c.letter_id == uuid.UUID(letter_id))
                .where(credential_letters.c.sealed_password.is_not(None))
                .values(sealed_password=None, printed_at=now)
            )
        return done.rowcount == 1

    def posted(self, letter_id: str, now: datetime) -> None:
        with self.db.write() as conn:
            conn.execute(
                credential_letters.update()
                .where(credential_letters.c.letter_id == uuid.UUID(letter_id))
                .values(posted_at=now)
            )

    def void(self, letter_id: str) -> None:
        """Destroy the seal of a letter whose password is no longer in force, and take it off
        the queue (it is never to be posted)."""
        with self.db.write() as conn:
            conn.execute(
                credential_letters.delete().where(
                    credential_letters.c.letter_id == uuid.UUID(letter_id)
                )
            )


def _letter(row) -> QueuedLetter:
    return QueuedLetter(
        str(row.letter_id), str(row.account_id), row.sealed_password, row.queued_at,
        row.printed_at, row.posted_at,
    )  # fmt: skip
