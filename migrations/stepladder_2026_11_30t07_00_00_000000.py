"""Workflow lifecycle: paused and archived workflows (no row: active)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-30T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "workflow lifecycle states"

STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS workflow_states (
        workflow_id varchar(100) PRIMARY KEY,
        state varchar(16) NOT NULL,
        changed_by varchar(200) NOT NULL DEFAULT '',
        reason text NOT NULL DEFAULT '',
        changed_at timestamptz NOT NULL
    )""",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
