"""Unsolicited notices: an email to the prescribers of record when a patient crosses an alert
threshold, if the program turned them on (``notify_prescribers``, off by default).

A prescriber of record is one whose DEA number is on a dispensation in the alert's evidence
and who is a registered, approved prescriber (the registration service knows). At most one
notice per patient, prescriber and rule in the policy's period. The email names the patient
only by initials and year of birth: the prescriber signs in and searches to see the report.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pmp.db import UtcDateTime
from pmp.envelope import RecordedEvent
from pmp.mail import Email, Mailer
from pmp.reactions import Reaction
from pmp.sources import ClusterProxy
from services.alerts.policy import policy_in_force
from services.alerts.watch import medications

metadata = sa.MetaData()

notices = sa.Table(
    "prescriber_notices",
    metadata,
    sa.Column("person_id", sa.Uuid, primary_key=True),
    sa.Column("prescriber", sa.String(80), primary_key=True),
    sa.Column("rule", sa.String(40), primary_key=True),
    sa.Column("sent_at", UtcDateTime(), nullable=False),
)


class PrescriberNotices(Reaction):
    name = "alerts.notices"
    types = frozenset({"AlertRaised"})

    def __init__(self, settings, store):
        super().__init__(settings, store)
        self.proxy = ClusterProxy(settings.amqp_uri, settings.rpc_timeout)
        self.mailer = Mailer(settings)

    def react(self, event: RecordedEvent) -> bool:
        policy = policy_in_force(self.store)
        if not policy.notify_prescribers:
            return False
        data = event.data
        person = uuid.UUID(data["person_id"])
        when = event.metadata.occurred_at
        with self.store.db.read() as conn:
            involved = conn.execute(
                sa.select(medications.c.prescriber, medications.c.initials,
                          medications.c.birth_year)
                .where(medications.c.dispensation_id.in_(data["dispensation_ids"]))
            ).all()  # fmt: skip
            recent = set(conn.scalars(sa.select(notices.c.prescriber).where(
                notices.c.person_id == person, notices.c.rule == data["rule"],
                notices.c.sent_at > when - timedelta(days=policy.notice_period_days))))  # fmt: skip
        deas = sorted({r.prescriber.removeprefix("DEA ") for r in involved
                       if r.prescriber.startswith("DEA ")} - {p.removeprefix("DEA ")
                                                              for p in recent})  # fmt: skip
        if not deas:
            return False
        contacts = self.proxy()["registration"].registered_prescribers(dea_numbers=deas)
        patient = involved[0] if involved else None
        for contact in contacts:
            self.mailer.send(notice(contact, data, patient, str(event.event_id), when))
            self._record(person, f"DEA {contact['dea_number']}", data["rule"], when)
        return bool(contacts)

    def _record(self, person: uuid.UUID, prescriber: str, rule: str, when: datetime) -> None:
        key = (
            (notices.c.person_id == person)
            & (notices.c.prescriber == prescriber)
            & (notices.c.rule == rule)
        )
        with self.store.db.write() as conn:
            conn.execute(notices.delete().where(key))
            conn.execute(notices.insert().values(person_id=person, prescriber=prescriber,
                                                 rule=rule, sent_at=when))  # fmt: skip


def notice(
    contact: dict[str, str], alert: dict[str, Any], patient: Any, cause: str, when: datetime
) -> Email:
    """The email to one prescriber: what was met and when, who the patient is (initials and
    year of birth), and that the report is behind sign-in."""
    who = "a patient"
    if patient is not None and patient.initials:
        who = f"a patient with the initials {'. '.join(patient.initials)}."
        if patient.birth_year:
            who += f", born in {patient.birth_year},"
    level = "alert" if alert["level"] == "alert" else "caution"
    text = (
        f"Dear {contact['name'] or 'prescriber'},\n\n"
        f"The prescription monitoring program found that {who} for whom you prescribed a "
        f"controlled substance met the {level} criteria of: {alert['title']} "
        f"({alert['start']} to {alert['end']}).\n\n"
        "Sign in to CPMRS and search the patient to read the Patient History Report and the "
        "alert's evidence. This notice is sent once per patient and alert type in a period; "
        "it is not a finding of misuse.\n"
    )
    return Email(to=contact["email"], subject="CPMRS notice: a patient of yours met an alert "
                 "threshold", text=text, message_id=f"{cause}-{contact['dea_number']}")  # fmt: skip
