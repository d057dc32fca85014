"""Migrations written as plain SQL: one helper so each migration file holds only its statements."""

from collections.abc import Sequence

from piccolo.apps.migrations.auto.migration_manager import MigrationManager


def ddl_migration(
    migration_id: str, description: str, statements: Sequence[str]
) -> MigrationManager:
    """A Piccolo migration that runs `statements` in order, each with `run_ddl`.

    Statements should be idempotent (`IF NOT EXISTS`, `ON CONFLICT DO NOTHING`) because
    `stepladder migrate` may meet a database where some already ran.
    """
    manager = MigrationManager(
        migration_id=migration_id, app_name="stepladder", description=description
    )

    async def run_statements() -> None:
        from piccolo.engine import engine_finder

        engine = engine_finder()
        assert engine is not None
        for statement in statements:
            await engine.run_ddl(statement)

    manager.add_raw(run_statements)
    return manager
