"""Initial schema: executions, step runs and the customer_onboarding demo tables.

Written as plain SQL so the schema reads in one place; tests/test_schema.py checks that the
Piccolo tables in app/db/tables.py match what the migrations create.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-21T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "initial schema"

SQL = """
CREATE TABLE executions (
    id serial PRIMARY KEY,
    execution_id varchar(100) NOT NULL UNIQUE,
    workflow_id varchar(100) NOT NULL,
    workflow_name varchar(200) NOT NULL,
    definition_hash varchar(64) NOT NULL,
    status varchar(32) NOT NULL DEFAULT 'running',
    input jsonb NOT NULL DEFAULT '{}',
    started_by varchar(200) NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    outcome text NOT NULL DEFAULT ''
);
CREATE INDEX executions_workflow_id ON executions (workflow_id);
CREATE INDEX executions_status ON executions (status);
CREATE INDEX executions_started_at ON executions (started_at DESC);

CREATE TABLE step_runs (
    id serial PRIMARY KEY,
    run_key varchar(250) NOT NULL UNIQUE,
    execution_id varchar(100) NOT NULL,
    workflow_id varchar(100) NOT NULL,
    step_id varchar(100) NOT NULL,
    mode varchar(32) NOT NULL,
    status varchar(32) NOT NULL,
    started_at timestamptz,
    ended_at timestamptz,
    duration_ms integer,
    summary text NOT NULL DEFAULT '',
    error text NOT NULL DEFAULT ''
);
CREATE INDEX step_runs_execution_id ON step_runs (execution_id);
CREATE INDEX step_runs_step ON step_runs (workflow_id, step_id, ended_at);

CREATE TABLE demo_contacts (
    id serial PRIMARY KEY,
    email varchar(320) NOT NULL UNIQUE,
    name varchar(200) NOT NULL,
    tier varchar(32) NOT NULL,
    credit_limit integer NOT NULL DEFAULT 0,
    created_by_execution varchar(100) NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE demo_billing_accounts (
    id serial PRIMARY KEY,
    run_key varchar(250) NOT NULL UNIQUE,
    contact_email varchar(320) NOT NULL,
    tier varchar(32) NOT NULL,
    credit_limit integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX demo_billing_accounts_contact_email ON demo_billing_accounts (contact_email);

CREATE TABLE demo_outbox (
    id serial PRIMARY KEY,
    run_key varchar(250) NOT NULL UNIQUE,
    to_address varchar(320) NOT NULL,
    subject varchar(300) NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="stepladder", description=DESCRIPTION)

    async def create_tables() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        assert engine is not None
        # run_ddl joins the migration's transaction, so a failure leaves nothing half-made.
        for statement in filter(str.strip, SQL.split(";")):
            await engine.run_ddl(statement)

    manager.add_raw(create_tables)
    return manager
