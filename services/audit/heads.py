"""The audit trail's head, kept outside the database once a day.

The first time the audit service looks on a given day (UTC), it appends a line
``<date> <entries> <head hash>`` to a file, and emails the same line when an address is set.
Whoever holds the line can show later that the trail still runs through it: entry
``<entries>`` must still carry that hash, which ``pmp audit verify`` checks together with
every entry before it. A failed email is logged; the file line is written first.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pmp.db import Database
from pmp.logs import get_logger
from pmp.mail import Email, Mailer, MailUndeliverable
from services.audit import trail

log = get_logger(__name__)


def write_daily_head(
    db: Database, path: Path, today: date, mailer: Mailer | None = None, to: str = ""
) -> str | None:
    """Append today's head line unless the file has one for today; the line, or None."""
    stamp = today.isoformat()
    if path.exists() and any(
        line.startswith(stamp + " ") for line in path.read_text().splitlines()
    ):
        return None
    with db.read() as conn:
        top = trail.head(conn)
    line = f"{stamp} {top.count} {top.hash}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as file:
        file.write(line + "\n")
    if mailer is not None and to:
        text = (
            "The CPMRS audit trail's head today: entries, then the hash of the newest.\n\n"
            f"{line}\n\nKeep this message: it shows what the trail held on this day.\n"
        )
        try:
            mailer.send(Email(to, f"CPMRS audit trail head {stamp}", text, f"audit-head-{stamp}"))
        except MailUndeliverable as exc:
            log.warning("audit head not emailed", reason=str(exc))
    return line
