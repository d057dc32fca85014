"""Execution cancellations: who asked Temporal to cancel an execution, and the reason given."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

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
    manager = MigrationManager(migration_id=ID, app_name="stepladder", description=DESCRIPTION)

    async def create_table() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        assert engine is not None
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_table)
    return manager
