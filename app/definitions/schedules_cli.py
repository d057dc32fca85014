"""`stepladder schedules sync` (make Temporal's Schedules match the definition files, once) and
the sync a starting worker runs in the background."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from app.settings import Settings

log = logging.getLogger("stepladder.schedules")

if TYPE_CHECKING:  # imported when used: `stepladder --help` stays quick
    from temporalio.client import Client

    from app.definitions.schedules import ScheduleSync


def schedules_parser() -> argparse.ArgumentParser:
    """`stepladder schedules`' options: the `sync` action."""
    parser = argparse.ArgumentParser(
        prog="stepladder schedules",
        description="Temporal Schedules made from the definitions' `type: schedule` triggers.",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser(
        "sync",
        help="create missing Schedules, update changed ones, delete ours no longer in the files",
    )
    return parser


def schedule_sync(settings: Settings, client: Client) -> ScheduleSync:
    """The sync of the definitions in DEFINITIONS_DIR (a bad file raises DefinitionError)."""
    from app.definitions.lifecycle import WorkflowLifecycle
    from app.definitions.loader import load_definitions
    from app.definitions.schedules import ScheduleSync
    from app.executions.service import ExecutionService
    from app.temporal.actions import ACTION_NAMES

    definitions = load_definitions(settings.definitions_dir, ACTION_NAMES)
    executions = ExecutionService(client, definitions, settings.task_queue)
    return ScheduleSync(executions, WorkflowLifecycle())


def cmd_schedules(settings: Settings, argv: list[str] | None = None) -> None:
    """Run `stepladder schedules sync`: one sync, its outcome printed; exits 1 in one line when
    PostgreSQL or Temporal does not answer (raised for app.cli to print)."""
    from app.db.engine import tables_bound
    from app.temporal.client import connect

    schedules_parser().parse_args(argv or [])
    settings.require_services()

    async def run() -> None:
        client = await connect(settings)
        sync = schedule_sync(settings, client)
        async with tables_bound(settings.database_url):
            report = await sync.sync()
        for name in ("created", "updated", "deleted", "failed"):
            for sid in getattr(report, name):
                print(f"{name}\t{sid}")
        print(f"schedules synced: {report.summary()}")

    asyncio.run(run())


@asynccontextmanager
async def syncing_schedules(settings: Settings, client: Client) -> AsyncIterator[None]:
    """While the worker runs: sync once in the background, retrying until it succeeds."""
    from app.definitions.schedules import keep_syncing
    from app.domain.definitions import DefinitionError

    try:
        sync = schedule_sync(settings, client)
    except DefinitionError as exc:  # the engine runs any definition: it starts regardless
        log.warning("schedules not synced: %s", exc)
        yield
        return
    task = asyncio.create_task(keep_syncing(sync))
    try:
        yield
    finally:
        task.cancel()
