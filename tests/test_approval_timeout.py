"""Approval timeouts under Temporal's time-skipping test server: a 30-minute wait passes in
milliseconds, and the step's `on_timeout` decides between expiring and rejecting."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from app.db.tables import DemoContact, StepRun
from app.definitions.loader import load_definitions
from app.domain.definitions import WorkflowDefinition
from app.settings import REPO_ROOT
from app.steps.service import evaluate_after_outcome
from app.temporal.actions import ACTION_NAMES
from app.temporal.contracts import ExecutionInput, Timeline
from app.temporal.worker import build_worker
from app.temporal.workflows import ExecutionWorkflow

ONBOARDING = load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)["customer_onboarding"]
PREMIUM = {"name": "John Doe", "email": "john@example.com", "tier": "premium"}


@pytest.fixture(scope="module")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    server = Path(sys.executable).parent / "temporal-test-server"
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(server))
    yield env
    await env.shutdown()


async def run_to_end(
    env: WorkflowEnvironment, definition: WorkflowDefinition
) -> tuple[str, Timeline]:
    queue = f"timeout-{uuid.uuid4().hex[:8]}"
    execution_id = f"timeout-{uuid.uuid4().hex[:8]}"
    async with build_worker(
        env.client, queue, on_outcome=evaluate_after_outcome, fault_injection=False
    ):
        handle = await env.client.start_workflow(
            ExecutionWorkflow.run,
            ExecutionInput(execution_id, definition, PREMIUM, started_by="bob"),
            id=execution_id,
            task_queue=queue,
        )
        status = await handle.result()
        timeline = await handle.query(ExecutionWorkflow.timeline)
    return status, timeline


async def test_an_unanswered_approval_expires_after_30_minutes_and_stops_the_execution(
    time_skipping: WorkflowEnvironment, database_url: str
) -> None:
    status, timeline = await run_to_end(time_skipping, ONBOARDING)

    assert status == "expired"
    crm = timeline.steps[2]
    assert crm.status == "expired"
    assert crm.summary == "Expired: no decision within 30 min"
    assert timeline.outcome == "Create CRM Record expired: no decision within 30 min"
    assert [s.status for s in timeline.steps[3:]] == ["pending", "pending"]
    assert await DemoContact.count() == 0
    run = await StepRun.objects().get(StepRun.step_id == "create_crm_record")
    assert run is not None and run.status == "expired"


async def test_a_step_set_to_reject_on_timeout_is_rejected_by_the_system(
    time_skipping: WorkflowEnvironment, database_url: str
) -> None:
    crm = replace(ONBOARDING.step("create_crm_record"), approval_timeout_seconds=120,
                  on_timeout="reject")  # fmt: skip
    definition = replace(ONBOARDING, steps=[crm if s.id == crm.id else s for s in ONBOARDING.steps])
    status, timeline = await run_to_end(time_skipping, definition)

    assert status == "rejected"
    assert timeline.steps[2].summary == "Rejected by stepladder: No decision within 2 min"
    assert await DemoContact.count() == 0
