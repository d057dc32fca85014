"""Execution cancellations: who asked Temporal to cancel an execution, and the reason given."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-30T07:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "execution cancellations with their reason"

STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS execution_cancellations (
        execution_id varchar(100) PRIMARY KEY,
        cancelled_by varchar(200) NOT NULL,
        reason text NOT NULL,
        cancelled_at timestamptz NOT NULL
    )""",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
