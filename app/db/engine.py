"""Binds every table to one engine built from settings, and runs the migrations."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString

from app.db.tables import TABLES


def bind_tables(database_url: str) -> PostgresEngine:
    """Point every table at an engine for `database_url` (piccolo_conf is only for the CLI)."""
    engine = PostgresEngine(config={"dsn": database_url})
    for table in TABLES:
        table._meta.db = engine
    return engine


@asynccontextmanager
async def tables_bound(database_url: str) -> AsyncIterator[PostgresEngine]:
    """Bind the tables to a pooled engine for a process's (or an app's) lifetime, then restore
    whatever binding was there before (tests build several apps in one process)."""
    previous = [table._meta._db for table in TABLES]
    engine = bind_tables(database_url)
    # min_size=0: start even while PostgreSQL is down, so /health can say 503 instead of crashing.
    await engine.start_connection_pool(min_size=0, max_size=10)
    try:
        yield engine
    finally:
        await engine.close_connection_pool()
        for table, db in zip(TABLES, previous, strict=True):
            table._meta._db = db


async def ping(engine: PostgresEngine) -> None:
    """One round trip to PostgreSQL (`SELECT 1`); raises whatever the driver raises when down."""
    await engine.run_querystring(QueryString("SELECT 1"))


async def migrate(database_url: str) -> None:
    """Apply the migrations in migrations/ that have not run yet."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["PICCOLO_CONF"] = "app.db.piccolo_conf"
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards(app_name="stepladder", migration_id="all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}")
