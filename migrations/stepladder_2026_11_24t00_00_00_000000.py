"""Fault injection: a failure rate per step that its action raises on purpose (for `simulate`)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-24T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "fault injections"

STATEMENTS = [
    """
    CREATE TABLE fault_injections (
        id serial PRIMARY KEY,
        workflow_id varchar(100) NOT NULL,
        step_id varchar(100) NOT NULL,
        failure_rate double precision NOT NULL,
        set_by varchar(200) NOT NULL DEFAULT '',
        set_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (workflow_id, step_id)
    )
    """,
    "CREATE INDEX step_runs_step_ended ON step_runs (workflow_id, step_id, ended_at)",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
