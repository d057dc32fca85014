"""API tokens: stored as the sha256 of their secret, with a prefix for display."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-25T00:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "api tokens"

STATEMENTS = [
    """
    CREATE TABLE api_tokens (
        id serial PRIMARY KEY,
        name varchar(200) NOT NULL DEFAULT '',
        user_name varchar(200) NOT NULL,
        roles jsonb NOT NULL DEFAULT '[]',
        groups jsonb NOT NULL DEFAULT '[]',
        prefix varchar(16) NOT NULL,
        secret_hash varchar(64) NOT NULL UNIQUE,
        created_by varchar(200) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NULL DEFAULT NULL,
        last_used_at timestamptz NULL DEFAULT NULL,
        revoked_at timestamptz NULL DEFAULT NULL
    )
    """,
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
