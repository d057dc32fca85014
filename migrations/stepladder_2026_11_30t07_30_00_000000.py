"""Operation preview summaries, recorded by the preview activity for the approvals inbox."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

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
    manager = MigrationManager(migration_id=ID, app_name="stepladder", description=DESCRIPTION)

    async def create_table() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        assert engine is not None
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_table)
    return manager
