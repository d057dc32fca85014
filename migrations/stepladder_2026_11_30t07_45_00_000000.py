"""Notification deliveries: one row per notice and channel (sent once; failures counted)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-30T07:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "notification deliveries"

STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS notification_deliveries (
        key varchar(300) PRIMARY KEY,
        execution_id varchar(200) NOT NULL,
        step_id varchar(100) NOT NULL,
        channel varchar(100) NOT NULL,
        channel_type varchar(16) NOT NULL,
        kind varchar(16) NOT NULL,
        status varchar(16) NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        failures integer NOT NULL DEFAULT 0,
        error text NOT NULL DEFAULT '',
        first_at timestamptz NOT NULL,
        last_at timestamptz NOT NULL
    )""",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
