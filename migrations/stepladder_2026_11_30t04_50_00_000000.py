"""Decision latency on step runs: when a step started waiting, how long until the decision."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T04:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "step runs' decision latency"

STATEMENTS = [
    "ALTER TABLE step_runs ADD COLUMN waiting_since timestamptz NULL",
    "ALTER TABLE step_runs ADD COLUMN decision_seconds double precision NULL",
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
