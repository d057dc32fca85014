"""Indexes that keep the list pages' cost flat as history grows (issue 16): the inbox's
waiting-steps query reads a partial index of the waiting step runs only, and the executions
list's keyset (started_at, id) is served by one index in both directions."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-30T08:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for the paged inbox and executions list"

STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS step_runs_waiting ON step_runs (execution_id)"
    " WHERE status = 'waiting_approval'",
    "CREATE INDEX IF NOT EXISTS executions_started_at_id ON executions (started_at, id)",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
