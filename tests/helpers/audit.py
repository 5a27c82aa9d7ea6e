"""What only someone owning the audit database could do, and what ``verify`` is for."""

from __future__ import annotations

from pmp.db import Database
from services.audit import trail

GUARDED = (trail.entries.name, trail.patients.name)


def drop_guards(db: Database) -> None:
    """Drop the triggers that refuse changes to the trail."""
    with db.write() as conn:
        for table in GUARDED:
            if db.is_postgresql:
                conn.exec_driver_sql(f"DROP TRIGGER {table}_no_change ON {table}")
                conn.exec_driver_sql(f"DROP TRIGGER {table}_no_truncate ON {table}")
            else:
                conn.exec_driver_sql(f"DROP TRIGGER {table}_no_update")
                conn.exec_driver_sql(f"DROP TRIGGER {table}_no_delete")


def restore_guards(db: Database) -> None:
    """Put the triggers back as the trail's tables were created with them."""
    dialect = "postgresql" if db.is_postgresql else "sqlite"
    with db.write() as conn:
        for table in GUARDED:
            for statement in trail.guards(table)[dialect]:
                conn.exec_driver_sql(statement)
