"""Step configurations: each step's current mode, seeded from the definitions' defaults."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-22T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "step configurations"

SQL = """
CREATE TABLE step_configs (
    id serial PRIMARY KEY,
    workflow_id varchar(100) NOT NULL,
    step_id varchar(100) NOT NULL,
    impact varchar(32) NOT NULL,
    mode varchar(32) NOT NULL,
    auto_promote boolean NOT NULL DEFAULT true,
    criteria jsonb NOT NULL DEFAULT '{}',
    mode_since timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    updated_by varchar(200) NOT NULL DEFAULT '',
    UNIQUE (workflow_id, step_id)
)
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="stepladder", description=DESCRIPTION)

    async def create_table() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(SQL)

    manager.add_raw(create_table)
    return manager
