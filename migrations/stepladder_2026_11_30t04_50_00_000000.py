"""Decision latency on step runs: when a step started waiting, how long until the decision."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-30T04:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "step runs' decision latency"

STATEMENTS = [
    "ALTER TABLE step_runs ADD COLUMN waiting_since timestamptz NULL",
    "ALTER TABLE step_runs ADD COLUMN decision_seconds double precision NULL",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
