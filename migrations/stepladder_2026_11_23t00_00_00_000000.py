"""Approval decisions and the audit trail of step mode changes."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-23T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "decisions and mode changes"

STATEMENTS = [
    """
    CREATE TABLE decisions (
        id serial PRIMARY KEY,
        decision_key varchar(300) NOT NULL UNIQUE,
        execution_id varchar(100) NOT NULL,
        workflow_id varchar(100) NOT NULL,
        step_id varchar(100) NOT NULL,
        user_id varchar(200) NOT NULL,
        action varchar(16) NOT NULL,
        reason text NOT NULL DEFAULT '',
        confirmations jsonb NOT NULL DEFAULT '[]',
        typed_confirmation text NOT NULL DEFAULT '',
        source varchar(16) NOT NULL DEFAULT 'web',
        accepted boolean NOT NULL DEFAULT true,
        refusal text NOT NULL DEFAULT '',
        decided_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX decisions_execution_id ON decisions (execution_id)",
    """
    CREATE TABLE mode_changes (
        id serial PRIMARY KEY,
        workflow_id varchar(100) NOT NULL,
        step_id varchar(100) NOT NULL,
        from_mode varchar(32) NOT NULL,
        to_mode varchar(32) NOT NULL,
        kind varchar(16) NOT NULL,
        changed_by varchar(200) NOT NULL,
        reason text NOT NULL DEFAULT '',
        metrics jsonb NOT NULL DEFAULT '{}',
        changed_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX mode_changes_step ON mode_changes (workflow_id, step_id)",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
