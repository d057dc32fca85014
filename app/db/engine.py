"""Binds every table to one engine built from settings, and runs the migrations."""

from __future__ import annotations

import os

from piccolo.engine.postgres import PostgresEngine

from app.db.tables import TABLES


def bind_tables(database_url: str) -> PostgresEngine:
    """Point every table at an engine for `database_url` (piccolo_conf is only for the CLI)."""
    engine = PostgresEngine(config={"dsn": database_url})
    for table in TABLES:
        table._meta.db = engine
    return engine


async def migrate(database_url: str) -> None:
    """Apply the migrations in migrations/ that have not run yet."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["PICCOLO_CONF"] = "app.db.piccolo_conf"
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards(app_name="stepladder", migration_id="all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}")
