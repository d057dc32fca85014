"""Indexes that keep the list pages' cost flat as history grows (issue 16): the inbox's
waiting-steps query reads a partial index of the waiting step runs only, and the executions
list's keyset (started_at, id) is served by one index in both directions; the overview's
recent outcomes read the newest ended_at from an index."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T08:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes for the paged inbox and executions list"

STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS step_runs_waiting ON step_runs (execution_id)"
    " WHERE status = 'waiting_approval'",
    "CREATE INDEX IF NOT EXISTS executions_started_at_id ON executions (started_at, id)",
    # The overview's recent outcomes: the most recently ended first.
    "CREATE INDEX IF NOT EXISTS executions_ended ON executions (ended_at) WHERE status <> 'running'",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="stepladder", description=DESCRIPTION)

    async def create_indexes() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        assert engine is not None
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_indexes)
    return manager
