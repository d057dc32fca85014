"""The generic workflow runs customer_onboarding on the real dev server and PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from app.db.tables import DemoBillingAccount, DemoContact, DemoOutboxMessage, Execution, StepRun
from app.definitions.loader import load_definitions
from app.settings import REPO_ROOT, Settings
from app.temporal.actions import ACTION_NAMES
from app.temporal.contracts import ExecutionInput
from app.temporal.workflows import ExecutionWorkflow
from tests.helpers import automate_every_step

ONBOARDING = load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)["customer_onboarding"]


@pytest.fixture(autouse=True)
async def no_approvals(database_url: str) -> None:
    # These tests are about running steps; approvals are tests/test_step_engine.py's subject.
    await automate_every_step(ONBOARDING)


async def run_onboarding(
    client: Client, settings: Settings, data: dict[str, str]
) -> tuple[str, str]:
    execution_id = f"test-{uuid.uuid4().hex[:10]}"
    status = await client.execute_workflow(
        ExecutionWorkflow.run,
        ExecutionInput(execution_id, ONBOARDING, data, started_by="bob"),
        id=execution_id,
        task_queue=settings.task_queue,
    )
    return execution_id, status


async def test_onboarding_runs_every_step_and_writes_the_demo_rows(
    temporal_client: Client, settings: Settings, worker: Worker, database_url: str
) -> None:
    data = {"name": "John Doe", "email": "john@example.com", "tier": "premium"}
    execution_id, status = await run_onboarding(temporal_client, settings, data)

    assert status == "completed"
    timeline = await temporal_client.get_workflow_handle(execution_id).query(
        ExecutionWorkflow.timeline
    )
    assert [s.status for s in timeline.steps] == ["completed"] * 5
    assert timeline.steps[1].summary == "No duplicates found"
    assert timeline.completed_count == 5 and timeline.outcome == "All steps completed"

    contact = await DemoContact.objects().get(DemoContact.email == "john@example.com")
    assert contact is not None and (contact.tier, contact.credit_limit) == ("premium", 5000)
    assert await DemoBillingAccount.count() == 1
    outbox = await DemoOutboxMessage.select(DemoOutboxMessage.subject)
    assert outbox == [{"subject": "Welcome to Stepladder, John Doe"}]
    runs = await StepRun.select(StepRun.step_id, StepRun.status).where(
        StepRun.execution_id == execution_id
    )
    assert len(runs) == 5 and {r["status"] for r in runs} == {"completed"}
    record = await Execution.objects().get(Execution.execution_id == execution_id)
    assert record is not None and record.status == "completed" and record.started_by == "bob"


async def test_second_onboarding_of_the_same_email_finds_the_duplicate(
    temporal_client: Client, settings: Settings, worker: Worker, database_url: str
) -> None:
    data = {"name": "Ann", "email": "ann@example.com", "tier": "basic"}
    await run_onboarding(temporal_client, settings, data)
    execution_id, _ = await run_onboarding(temporal_client, settings, data)
    timeline = await temporal_client.get_workflow_handle(execution_id).query(
        ExecutionWorkflow.timeline
    )
    assert timeline.steps[1].summary == "1 existing contact(s) with ann@example.com"
    assert timeline.steps[1].result == {"count": 1}
    assert await DemoContact.count() == 1  # upserted, not duplicated


async def test_a_failing_step_stops_the_execution_and_later_steps_never_run(
    temporal_client: Client, settings: Settings, worker: Worker, database_url: str
) -> None:
    data = {"name": "Bad", "email": "bad address@nowhere", "tier": "basic"}
    execution_id, status = await run_onboarding(temporal_client, settings, data)

    assert status == "failed"
    timeline = await temporal_client.get_workflow_handle(execution_id).query(
        ExecutionWorkflow.timeline
    )
    assert [s.status for s in timeline.steps] == ["failed"] + ["pending"] * 4
    assert "is not a valid email address" in timeline.steps[0].error
    assert timeline.outcome.startswith("Validate Email failed")
    assert await DemoContact.count() == 0
    record = await Execution.objects().get(Execution.execution_id == execution_id)
    assert record is not None and record.status == "failed"
    # The failure counts against the mode the step ran in (what demotion reads).
    assert timeline.steps[0].mode == "always_auto"
    run = await StepRun.select(StepRun.mode, StepRun.status).where(
        StepRun.execution_id == execution_id
    )
    assert run == [{"mode": "always_auto", "status": "failed"}]


async def test_a_failing_step_marked_continue_on_failure_lets_the_execution_go_on(
    temporal_client: Client, settings: Settings, worker: Worker, database_url: str
) -> None:
    lenient = replace(ONBOARDING.step("validate_email"), continue_on_failure=True)
    definition = replace(ONBOARDING, steps=[lenient, *ONBOARDING.steps[1:]])
    execution_id = f"test-{uuid.uuid4().hex[:10]}"
    data = {"name": "Odd", "email": "odd address@nowhere", "tier": "basic"}
    status = await temporal_client.execute_workflow(
        ExecutionWorkflow.run,
        ExecutionInput(execution_id, definition, data, started_by="bob"),
        id=execution_id,
        task_queue=settings.task_queue,
    )

    assert status == "completed"
    timeline = await temporal_client.get_workflow_handle(execution_id).query(
        ExecutionWorkflow.timeline
    )
    assert [s.status for s in timeline.steps] == ["failed"] + ["completed"] * 4
    assert timeline.outcome == "Completed; Validate Email failed (continue_on_failure)"
