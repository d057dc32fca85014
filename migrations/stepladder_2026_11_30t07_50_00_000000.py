"""Approver inputs (a step's approval_inputs) recorded with each decision."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-30T07:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "approver inputs on decisions"

STATEMENTS = [
    "ALTER TABLE decisions ADD COLUMN IF NOT EXISTS inputs jsonb NOT NULL DEFAULT '{}'::jsonb",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
