"""The misuse watch: every patient search judged against the searcher's own habits, their
peers', and what links them to the patient; what looks like misuse is raised for
administrators and auditors as ``MisuseSignalRaised``, with its evidence.

A projection in the audit service, like the alerts watch in its own: it reads who users are
(identity, registration), who dispensed to whom (submissions) and the searches (query), and
keeps them in its tables (``misuse_tables.py``, through ``misuse_facts.py``). Each
``PatientSearched`` is judged by the rules of ``signals.py`` as it is read, on the facts
read before it: the sources are read in the order listed, the searches last, so a search
made after a user's registration or a dispensation is judged with them once the watch has
caught up (a watch far behind on dispensations could judge a search before reading the
dispensation that explains it). The signals go to the audit service's own store in the same
transaction as the checkpoint (``EventStore.append_in``), so a crash neither loses nor
repeats one; a signal's id is made from what raised it (uuid5), and the watch keeps the
list of those it raised through a rebuild, so a replay raises none twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pmp.config import load_settings
from pmp.envelope import Metadata, NewEvent, RecordedEvent
from pmp.eventstore import EventStore
from pmp.projector import EventSource, Projection
from pmp.sources import StoreSource
from services.audit import misuse_facts as facts
from services.audit.baselines import Baselines
from services.audit.misuse_tables import FACTS, metadata, signals
from services.audit.signals import (
    KINDS,
    Evidence,
    MisusePolicy,
    Search,
    Searcher,
    criteria_key,
    daily_volume,
    due,
    repeated_searches,
    shared_address,
    shared_surname,
    signal_id,
    unusual_hour,
    volume_needed,
)
from services.identity.roles import Role

SIGNALS_STREAM = "misuse-signals"
MAX_PAGE_SIZE = 500

# Built once (each search of a busy user asks both): building a statement costs about as
# much as running it.
_RAISED = sa.select(signals.c.signal_id).where(signals.c.signal_id == sa.bindparam("id"))
_LAST_RAISED = (
    sa.select(signals.c.raised_at)
    .where(
        signals.c.kind == sa.bindparam("kind"),
        signals.c.account_id == sa.bindparam("account"),
        signals.c.subject == sa.bindparam("subject"),
        signals.c.raised_at <= sa.bindparam("at", type_=signals.c.raised_at.type),
    )
    .order_by(signals.c.raised_at.desc())
    .limit(1)
)


class SignalsRefused(ValueError):
    """A filter the list of signals cannot apply; the message names it."""


class MisuseWatch(Projection):
    name = "audit.misuse"
    # Facts first, searches last: in each round the projector reads its sources in this order.
    sources = ("identity", "registration", "submissions", "query", "audit")
    types = {"query": frozenset({"PatientSearched"})}
    metadata = metadata
    own_streams: ClassVar[tuple[str, ...]] = (SIGNALS_STREAM,)  # only to append to its store
    emits_events: ClassVar[bool] = True

    def __init__(self, policy: MisusePolicy | None = None, zone: ZoneInfo | None = None):
        if policy is None or zone is None:
            settings = load_settings()
            policy = policy or MisusePolicy.from_settings(settings)
            zone = zone or settings.timezone
        self.policy = policy
        self.zone = zone
        self.baselines = Baselines(policy, zone)
        self._raised: list[NewEvent] = []
        self._newest: datetime | None = None
        self._forgotten_before: date | None = None  # searches are forgotten once a day

    def attach(self, sources: Mapping[str, EventSource]) -> None:
        own = sources["audit"]
        assert isinstance(own, StoreSource)
        self.store: EventStore = own.store

    def clear(self, conn: Connection) -> None:
        """The facts only: the signals raised stay (their events are in the store)."""
        for table in reversed(FACTS):
            conn.execute(table.delete())
        self.baselines.forget()
        self._forgotten_before = None

    def begin_batch(self, conn: Connection, source: str, after_position: int) -> None:
        self._raised = []
        self._newest = None

    def apply(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        if source == "identity":
            facts.account_event(conn, event)
        elif source == "registration":
            facts.registration_event(conn, event)
        elif source == "submissions":
            facts.submissions_event(conn, event)
        elif source == "query" and event.type == "PatientSearched":
            self._judge(conn, event)

    def end_batch(self, conn: Connection, source: str, last_position: int) -> None:
        if self._raised:
            self.store.append_in(conn, SIGNALS_STREAM, self._raised)
        if self._newest is not None:
            keep = timedelta(days=max(self.policy.baseline_days, self.policy.repeat_days) + 1)
            oldest = self._newest - keep
            day = oldest.astimezone(self.zone).date()
            if day != self._forgotten_before:
                facts.forget_searches_before(conn, oldest, day)
                self._forgotten_before = day

    def set_aside(self, conn: Connection, source: str, event: RecordedEvent) -> None:
        """The batch it was in was undone and is applied again one by one: what the
        baselines read during it may have counted what is now not applied."""
        self.baselines.forget()
        self._forgotten_before = None

    def _judge(self, conn: Connection, event: RecordedEvent) -> None:
        data, policy = event.data, self.policy
        requester = data["requester"]
        at = event.metadata.occurred_at
        search = Search(
            search_id=str(data["search_id"]),
            account_id=str(requester["account_id"]),
            at=at,
            last_name=str(data["criteria"].get("last_name") or ""),
            person_ids=tuple(str(p) for p in data["person_ids"]),
            criteria_key=criteria_key(data["criteria"]),
        )
        role = str(requester.get("role") or "")
        day = at.astimezone(self.zone).date()
        self._newest = max(at, self._newest) if self._newest else at
        count = facts.record_search(conn, search, role, day)
        who = facts.searcher(conn, requester, data.get("on_behalf_of"))

        def judged(kind: str, subject: str, person: str | None, found: Evidence | None,
                   cause: str = search.search_id) -> None:  # fmt: skip
            if found is not None:
                self._raise(conn, kind, who, subject, person, found, search, event, cause)

        for person in search.person_ids or (None,):
            patient = facts.patient(conn, person) if person else None
            subject = person or search.criteria_key
            judged("surname", subject, person, shared_surname(who, search, patient))
            judged("address", subject, person, shared_address(who, search, patient))
            if person:
                since = at - timedelta(days=policy.repeat_days)
                mine = facts.searches_of_patient(conn, search.account_id, person, since, at)
                link = lambda p=person: facts.linked(conn, p, who.identifiers)  # noqa: E731
                judged("repeated", person, person,
                       repeated_searches(who, role, mine, link, policy))  # fmt: skip
        single = search.person_ids[0] if len(search.person_ids) == 1 else None
        usual = self.baselines.usual_hours(conn, search.account_id, day)
        judged("hour", single or search.criteria_key, single,
               unusual_hour(search, usual, policy, self.zone))  # fmt: skip
        own, peers = self.baselines.daily(conn, who.account_id, role, day)
        # The day's searches are read only when they could raise a signal not yet raised.
        if count >= volume_needed(own, peers, policy) and self._due(
            conn, "volume", who.account_id, day.isoformat(), day.isoformat(), at
        ):
            today = facts.searches_of_day(conn, search.account_id, day)
            judged("volume", day.isoformat(), None,
                   daily_volume(day, today, own, peers, policy), cause=day.isoformat())  # fmt: skip

    def _due(
        self, conn: Connection, kind: str, account_id: str, subject: str, cause: str, at: datetime
    ) -> bool:
        """Whether this signal would be raised: not raised already (a replay), and no signal
        of its kind for this user and subject in the quiet period before ``at``."""
        if conn.scalar(_RAISED, {"id": signal_id(kind, account_id, subject, cause)}):
            return False
        last = conn.scalar(
            _LAST_RAISED,
            {"kind": kind, "account": account_id, "subject": subject[:200], "at": at},
        )
        return due(last, at, self.policy)

    def _raise(
        self,
        conn: Connection,
        kind: str,
        who: Searcher,
        subject: str,
        person: str | None,
        evidence: Evidence,
        search: Search,
        cause_event: RecordedEvent,
        cause: str,
    ) -> None:
        """Record and append the signal, unless this one was raised already (a replay) or
        one of its kind for this user and subject was raised in the quiet period."""
        if not self._due(conn, kind, who.account_id, subject, cause, search.at):
            return
        raised_id = signal_id(kind, who.account_id, subject, cause)
        shown = {"name": who.name, "role": who.role}
        conn.execute(
            signals.insert().values(
                signal_id=raised_id, kind=kind, account_id=who.account_id,
                subject=subject[:200], person_id=uuid.UUID(person) if person else None,
                raised_at=search.at, searcher=shown, search_ids=list(evidence.search_ids),
                evidence=evidence.to_json(),
            )
        )  # fmt: skip
        data = {
            "signal_id": str(raised_id),
            "kind": kind,
            "account_id": who.account_id,
            "searcher": shown,
            "person_id": person,
            "search_ids": list(evidence.search_ids),
            "evidence": evidence.to_json(),
            "raised_at": search.at.isoformat(),
        }
        meta = Metadata(
            occurred_at=datetime.now(UTC),
            correlation_id=cause_event.metadata.correlation_id,
            causation_id=str(cause_event.event_id),
        )
        self._raised.append(NewEvent("MisuseSignalRaised", data, meta))


def signals_page(
    conn: Connection,
    *,
    kind: str | None = None,
    account: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> dict[str, Any]:
    """The signals raised, newest first, a page at a time; of one kind, of one user."""
    if kind is not None and kind not in KINDS:
        raise SignalsRefused(f"kind: choose one of {', '.join(KINDS)}.")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise SignalsRefused(f"page_size: from 1 to {MAX_PAGE_SIZE}.")
    if page < 1:
        raise SignalsRefused("page: from 1.")
    where = []
    if kind:
        where.append(signals.c.kind == kind)
    if account:
        try:
            where.append(signals.c.account_id == str(uuid.UUID(account)))
        except ValueError:
            raise SignalsRefused("account: an account id (a UUID).") from None
    total = conn.scalar(sa.select(sa.func.count()).select_from(signals).where(*where))
    rows = conn.execute(
        sa.select(signals)
        .where(*where)
        .order_by(signals.c.raised_at.desc(), signals.c.signal_id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).mappings()
    return {
        "total": total,
        "page": page,
        "page_size": page_size,
        "kinds": KINDS,
        "signals": [_shown(row) for row in rows],
    }


def _shown(row: Mapping[str, Any]) -> dict[str, Any]:
    searcher = dict(row["searcher"])
    try:
        searcher["role_title"] = Role(searcher.get("role") or "").title
    except ValueError:
        searcher["role_title"] = searcher.get("role") or ""
    return {
        "signal_id": str(row["signal_id"]),
        "kind": row["kind"],
        "kind_title": KINDS[row["kind"]],
        "account_id": row["account_id"],
        "searcher": searcher,
        "person_id": str(row["person_id"]) if row["person_id"] else None,
        "search_ids": row["search_ids"],
        "evidence": row["evidence"],
        "raised_at": row["raised_at"].isoformat(),
    }
