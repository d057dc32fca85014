"""Rate limits on starts: one counter row per key and fixed window, shared by every web process."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

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
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
