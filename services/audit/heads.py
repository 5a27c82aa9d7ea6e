"""The audit trail's head, kept outside the database: at start-up, then every hour.

The audit service appends a line ``<UTC time> <entries> <head hash>`` to the heads file
(``PMP_AUDIT_HEADS_FILE``) as soon as its trail holds an entry after it starts, and again
each hour; the first line of each (UTC) day is also emailed when ``PMP_AUDIT_HEADS_TO`` is
set. Whoever holds the lines can show later that the trail still runs through them: entry
``<entries>`` must still carry that hash. ``pmp audit verify`` checks every held line by
default, so a deleted tail (a trail shorter than a held head) or a chain rewritten and
re-hashed from some entry on (a held hash that no longer matches) is found. A failed email
is logged; the file line is written first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nameko.extensions import DependencyProvider

from pmp.db import Database
from pmp.logs import get_logger
from pmp.mail import Email, Mailer, MailUndeliverable
from services.audit import trail

log = get_logger(__name__)

EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class HeldHead:
    """One line of the heads file."""

    stamp: str  # when it was written (older files: the date)
    count: int
    hash: str

    @classmethod
    def parse(cls, line: str) -> HeldHead | None:
        parts = line.split()
        if len(parts) != 3 or not parts[1].isdigit() or len(parts[2]) != 64:
            return None
        return cls(parts[0], int(parts[1]), parts[2])


def read_heads(path: Path) -> list[HeldHead]:
    """The held heads in ``path`` (none if there is no file); lines that are not heads are
    passed over."""
    if not path.exists():
        return []
    found = (HeldHead.parse(line) for line in path.read_text().splitlines())
    return [head for head in found if head is not None]


def write_head(
    db: Database, path: Path, now: datetime, mailer: Mailer | None = None, to: str = ""
) -> str | None:
    """Append the trail's head now; the line, or None while the trail is empty. Emailed if it
    is the day's first line in the file."""
    with db.read() as conn:
        top = trail.head(conn)
    if top.count == 0:
        return None
    day = now.astimezone(UTC).date().isoformat()
    first_today = not any(h.stamp.startswith(day) for h in read_heads(path))
    line = f"{now.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} {top.count} {top.hash}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as file:
        file.write(line + "\n")
    if mailer is not None and to and first_today:
        text = (
            "The CPMRS audit trail's head today: time, entries, then the hash of the newest.\n\n"
            f"{line}\n\nKeep this message: it shows what the trail held on this day.\n"
        )
        try:
            mailer.send(Email(to, f"CPMRS audit trail head {day}", text, f"audit-head-{day}"))
        except MailUndeliverable as exc:
            log.warning("audit head not emailed", reason=str(exc))
    return line


class HeadSchedule(DependencyProvider):
    """When this process writes the next head: as soon as it can after start-up, then once
    an hour after the last it wrote."""

    def setup(self) -> None:
        self.last_written: datetime | None = None

    def get_dependency(self, worker_ctx) -> HeadSchedule:
        return self

    def due(self, now: datetime) -> bool:
        return self.last_written is None or now - self.last_written >= EVERY

    def written(self, now: datetime) -> None:
        self.last_written = now
