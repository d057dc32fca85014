"""Durability: kill the worker process (SIGKILL) while a step waits, start a new one, approve —
the execution completes and nothing is written twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from temporalio.client import Client

from app.db.tables import (
    ApprovalDecision,
    DemoBillingAccount,
    DemoContact,
    DemoOutboxMessage,
    StepRun,
)
from app.domain.identity import DEMO_USERS
from app.settings import Settings
from app.steps.seeding import seed_step_configs
from tests.helpers import CRM_CONFIRMATIONS, DEFINITIONS, PREMIUM, Engine, finished, waiting_at

STEPLADDER = Path(sys.executable).parent / "stepladder"


@asynccontextmanager
async def worker_process(
    settings: Settings, queue: str, *, database_url: str = ""
) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {**os.environ, "DATABASE_URL": database_url or settings.database_url,
           "TEMPORAL_ADDRESS": settings.temporal_address, "TEMPORAL_TASK_QUEUE": queue,
           "WORKER_METRICS_PORT": "0"}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        STEPLADDER, "worker", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            # Awaited, not blocking: whatever this loop serves (e.g. a relay) keeps running.
            await asyncio.wait_for(process.wait(), 30)


async def test_a_new_worker_picks_up_a_waiting_execution_and_completes_it_exactly_once(
    temporal_client: Client, settings: Settings, database_url: str
) -> None:
    await seed_step_configs(DEFINITIONS.values())
    queue = f"restart-{uuid.uuid4().hex[:8]}"
    engine = Engine(temporal_client, DEFINITIONS, queue)

    async with worker_process(settings, queue) as first:
        execution_id = await engine.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
        await waiting_at(engine, execution_id, "create_crm_record")
        first.send_signal(signal.SIGKILL)  # no graceful shutdown: the process just dies
        assert await asyncio.wait_for(first.wait(), 10) == -signal.SIGKILL

    async with worker_process(settings, queue):
        # The new worker replays the history to rebuild the waiting state, then takes decisions.
        await engine.decide(execution_id, "create_crm_record", DEMO_USERS["bob"], "approved",
                            confirmations=CRM_CONFIRMATIONS)  # fmt: skip
        await waiting_at(engine, execution_id, "setup_billing_account")
        await engine.decide(execution_id, "setup_billing_account", DEMO_USERS["carol"],
                            "approved", typed_confirmation="CONFIRM BILLING")  # fmt: skip
        timeline = await finished(engine, execution_id)

    assert timeline.status == "completed"
    assert await DemoContact.count() == 1
    assert await DemoBillingAccount.count() == 1
    assert await DemoOutboxMessage.count() == 1
    assert await StepRun.count().where(StepRun.execution_id == execution_id) == 5
    assert await ApprovalDecision.count().where(ApprovalDecision.execution_id == execution_id) == 2
