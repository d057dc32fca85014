"""Operation preview summaries, recorded by the preview activity for the approvals inbox."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-30T07:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "step preview summaries"

STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS step_previews (
        id serial PRIMARY KEY,
        run_key varchar(250) NOT NULL UNIQUE,
        execution_id varchar(100) NOT NULL,
        workflow_id varchar(100) NOT NULL,
        step_id varchar(100) NOT NULL,
        summary text NOT NULL DEFAULT '',
        recorded_at timestamptz NOT NULL DEFAULT now()
    )""",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
