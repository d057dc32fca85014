"""Rate limits on starts: one counter row per key and fixed window, shared by every web process."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-30T07:32:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "rate limit counters"

STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS rate_limit_counters (
        bucket varchar(300) PRIMARY KEY,
        hits integer NOT NULL DEFAULT 0,
        window_ends timestamptz NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS rate_limit_counters_window_ends ON rate_limit_counters (window_ends)",
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
