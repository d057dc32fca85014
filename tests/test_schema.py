"""The migrations in migrations/ create exactly the columns the Piccolo tables declare."""

from __future__ import annotations

from app.db.tables import TABLES


async def test_every_table_column_exists_after_migrating(database_url: str) -> None:
    for table in TABLES:
        rows = await table.raw(
            "SELECT column_name FROM information_schema.columns WHERE table_name = {}",
            table._meta.tablename,
        )
        in_database = {row["column_name"] for row in rows}
        declared = {column._meta.db_column_name for column in table._meta.columns}
        assert declared == in_database, table._meta.tablename
