"""The overview's recent outcomes read the most recently ended executions from an index, so the
overview's cost does not grow with history (issue 16)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-30T09:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index on finished executions' ended_at"

STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS executions_ended ON executions (ended_at) WHERE status <> 'running'",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
