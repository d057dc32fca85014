"""Indexes for the overview's first reads at a big history (issue 16): the inbox's page reads
each step's waiting runs in waiting order (a LIMITed read per step instead of sorting every
waiting run), and the overview's running executions come newest first from a partial index
instead of filtering the whole started_at index."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-30T10:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for the inbox page per step and the running executions"

STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS step_runs_waiting_by_step ON step_runs (workflow_id, step_id,"
    " COALESCE(waiting_since, started_at, '9999-12-31 23:59:59.999999+00'::timestamptz),"
    ' execution_id COLLATE "C") WHERE status = \'waiting_approval\'',
    "CREATE INDEX IF NOT EXISTS executions_running ON executions (started_at, id)"
    " WHERE status = 'running'",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
