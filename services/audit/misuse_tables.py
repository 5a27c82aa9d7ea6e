"""The misuse watch's tables (``audit.misuse``): the facts it judges searches by, and the
signals it raised.

The facts come from other services' events: who users are (identity: surname, role,
address; registration: work address and DEA, NPI, NCPDP numbers), which prescribers and
pharmacies dispensed to which patients and where pharmacies reported the patients
(submissions), and the searches themselves (query), kept for the baseline period.
``misuse_signals`` lists every ``MisuseSignalRaised`` the watch appended: it is what
investigators page through, and it is not emptied by a rebuild (the events stay in the
store, so a replay must know which it raised already).
"""

from __future__ import annotations

import sqlalchemy as sa

from pmp.db import UtcDateTime

metadata = sa.MetaData()

users = sa.Table(
    "misuse_users",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("last_name", sa.String(100), nullable=False, default=""),
    sa.Column("role", sa.String(40), nullable=False, default=""),
    sa.Column("address", sa.JSON),  # identity's address lines, normalised (signals.Address)
    sa.Column("registered_address", sa.JSON),  # the registration form's work address
    sa.Column("identifiers", sa.JSON, nullable=False, default=lambda: []),  # "DEA ...", "NPI ..."
)

# One row per patient index record: how a pharmacy reported the person (surname, address).
patients = sa.Table(
    "misuse_patients",
    metadata,
    sa.Column("patient_record", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("person_id", sa.Uuid, nullable=False, index=True),
    sa.Column("last_name", sa.String(60), nullable=False),
    sa.Column("address", sa.JSON),
)

# Who dispensed to whom: each dispensation's prescriber and pharmacy numbers, normalised.
links = sa.Table(
    "misuse_links",
    metadata,
    sa.Column("dispensation_id", sa.String(36), primary_key=True),
    sa.Column("person_id", sa.Uuid, nullable=False, index=True),
    sa.Column("patient_record", sa.Integer, nullable=False, index=True),
    sa.Column("prescriber_dea", sa.String(40)),
    sa.Column("prescriber_npi", sa.String(40)),
    sa.Column("pharmacy_ncpdp", sa.String(40)),
    sa.Column("pharmacy_npi", sa.String(40)),
)

searches = sa.Table(
    "misuse_searches",
    metadata,
    sa.Column("search_id", sa.Uuid, primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("searched_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("day", sa.Date, nullable=False),  # in the program's time zone
    sa.Index("misuse_searches_account", "account_id", "searched_at"),
)

# The persons each search found, for "one patient searched again and again".
search_persons = sa.Table(
    "misuse_search_persons",
    metadata,
    sa.Column("search_id", sa.Uuid, primary_key=True),
    sa.Column("person_id", sa.Uuid, primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("searched_at", UtcDateTime(), nullable=False, index=True),
    sa.Index("misuse_search_persons_account", "account_id", "person_id", "searched_at"),
)

# Searches per user and day, with the user's role that day: both daily baselines.
daily = sa.Table(
    "misuse_daily",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("searches", sa.Integer, nullable=False),
    sa.Index("misuse_daily_role", "role", "day"),
)

signals = sa.Table(
    "misuse_signals",
    metadata,
    sa.Column("signal_id", sa.Uuid, primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=False, index=True),
    sa.Column("subject", sa.String(200), nullable=False),  # a person, a patient asked for, a day
    sa.Column("person_id", sa.Uuid),
    sa.Column("raised_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("searcher", sa.JSON, nullable=False),  # name and role, as the search recorded
    sa.Column("search_ids", sa.JSON, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Index("misuse_signals_subject", "kind", "account_id", "subject", "raised_at"),
)

#: Emptied by a rebuild; ``signals`` is kept (see above).
FACTS = (users, patients, links, searches, search_persons, daily)
