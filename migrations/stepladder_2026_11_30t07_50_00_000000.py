"""Approver inputs (a step's approval_inputs) recorded with each decision."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T07:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "approver inputs on decisions"

STATEMENTS = [
    "ALTER TABLE decisions ADD COLUMN IF NOT EXISTS inputs jsonb NOT NULL DEFAULT '{}'::jsonb",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="stepladder", description=DESCRIPTION)

    async def add_column() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        assert engine is not None
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(add_column)
    return manager
