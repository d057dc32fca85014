"""API tokens: stored as the sha256 of their secret, with a prefix for display."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

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
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
