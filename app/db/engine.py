"""Binds every table to one engine built from settings, and runs the migrations."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.querystring import QueryString

from app.db.tables import TABLES
from app.domain.availability import ServiceUnavailable, first_line

# How long to wait for a connection, and for a statement, before PostgreSQL counts as down.
CONNECT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 15.0

# What the driver raises when the server cannot be reached or the connection is lost.
UNREACHABLE = (
    OSError,
    TimeoutError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
)


class BoundedTransaction(PostgresTransaction):
    async def __aenter__(self) -> PostgresTransaction:
        try:
            return await super().__aenter__()
        except UNREACHABLE as exc:
            raise ServiceUnavailable("postgresql", first_line(exc)) from exc


class BoundedEngine(PostgresEngine):
    """Piccolo's engine whose statements and transactions fail as ServiceUnavailable
    ("postgresql") when the server is unreachable or too slow (connect and command timeouts),
    instead of the driver's own errors or a hang."""

    async def run_querystring(self, querystring: QueryString, in_pool: bool = True) -> Any:
        try:
            return await super().run_querystring(querystring, in_pool)
        except UNREACHABLE as exc:
            raise ServiceUnavailable("postgresql", first_line(exc)) from exc

    async def run_ddl(self, ddl: str, in_pool: bool = True) -> Any:
        try:
            return await super().run_ddl(ddl, in_pool)
        except UNREACHABLE as exc:
            raise ServiceUnavailable("postgresql", first_line(exc)) from exc

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return BoundedTransaction(engine=self, allow_nested=allow_nested)


def bind_tables(database_url: str) -> PostgresEngine:
    """Point every table at an engine for `database_url` (piccolo_conf is only for the CLI)."""
    engine = BoundedEngine(
        config={"dsn": database_url, "timeout": CONNECT_TIMEOUT, "command_timeout": COMMAND_TIMEOUT}
    )
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
