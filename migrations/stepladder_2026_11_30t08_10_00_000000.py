"""Safety policies: every policy rule's check of a step run, and the demo tasks table the
policy_check definition writes to."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-30T08:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "policy checks and demo tasks"

STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS policy_checks (
        id serial PRIMARY KEY,
        check_key varchar(400) NOT NULL UNIQUE,
        execution_id varchar(100) NOT NULL,
        workflow_id varchar(100) NOT NULL,
        step_id varchar(100) NOT NULL,
        rule_id varchar(100) NOT NULL,
        field varchar(100) NOT NULL,
        value text NOT NULL DEFAULT '',
        amount double precision NULL,
        limits text NOT NULL DEFAULT '',
        passed boolean NOT NULL DEFAULT true,
        action varchar(32) NOT NULL DEFAULT '',
        message text NOT NULL DEFAULT '',
        checked_at timestamptz NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS policy_checks_execution_id ON policy_checks (execution_id)",
    """CREATE INDEX IF NOT EXISTS policy_checks_daily
        ON policy_checks (workflow_id, rule_id, checked_at)""",
    """CREATE TABLE IF NOT EXISTS demo_tasks (
        id serial PRIMARY KEY,
        run_key varchar(250) NOT NULL UNIQUE,
        task text NOT NULL,
        requested_by varchar(200) NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL
    )""",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
