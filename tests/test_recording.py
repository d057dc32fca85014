"""When an execution's records reach PostgreSQL: batched while steps run back to back, but never
held back by a long step — a step's outcome (and the execution's start) land within a second or
so even while the next step is still running."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import Client

from app.db.tables import Execution, StepRun
from app.domain.definitions import parse_definition
from app.steps.service import evaluate_after_outcome
from app.temporal.actions import ACTION_NAMES, ActionActivities, step_action
from app.temporal.contracts import ActionInput, ActionResult, ExecutionInput
from app.temporal.record_queue import FLUSH_AFTER
from app.temporal.worker import build_worker
from app.temporal.workflows import ExecutionWorkflow
from tests.helpers import eventually

RELEASE = asyncio.Event()


class ActionsWithASlowStep(ActionActivities):
    @step_action("wait_for_release")
    async def wait_for_release(self, inp: ActionInput) -> ActionResult:
        """A step that runs until the test lets it finish, like a call to a slow system."""
        await RELEASE.wait()
        return ActionResult(summary="released")


DEFINITION = parse_definition(
    {
        "id": "long_second_step",
        "name": "Long second step",
        "description": "A quick step, then one that runs until released.",
        "inputs": [{"name": "email", "type": "string", "required": True}],
        "steps": [
            {"id": "validate", "name": "Validate", "action": "validate_email",
             "impact": "accessory", "params": {"email": "{{ input.email }}"}},
            {"id": "slow", "name": "Slow", "action": "wait_for_release", "impact": "accessory"},
        ],
    },
    "test_recording.py",
    {*ACTION_NAMES, "wait_for_release"},
)  # fmt: skip


async def test_records_land_within_a_second_while_the_next_step_runs(
    temporal_client: Client, database_url: str
) -> None:
    queue = f"records-{uuid.uuid4().hex[:8]}"
    execution_id = f"records-{uuid.uuid4().hex[:8]}"
    RELEASE.clear()
    async with build_worker(
        temporal_client, queue, on_outcome=evaluate_after_outcome, fault_injection=False,
        actions=ActionsWithASlowStep,
    ):  # fmt: skip
        handle = await temporal_client.start_workflow(
            ExecutionWorkflow.run,
            ExecutionInput(execution_id, DEFINITION, {"email": "a@b.co"}, started_by="bob"),
            id=execution_id,
            task_queue=queue,
        )
        # Step 2 is still running (it waits for RELEASE), yet step 1 and the start are written.
        limit = FLUSH_AFTER.total_seconds() + 4  # the timer, plus a slow machine's margin
        rows = await eventually(
            lambda: StepRun.select(StepRun.step_id, StepRun.status, StepRun.mode).where(
                StepRun.execution_id == execution_id
            ),
            lambda rows: len(rows) > 0,
            timeout=limit,
        )
        assert rows == [{"step_id": "validate", "status": "completed", "mode": "always_auto"}]
        started = await Execution.select(Execution.status).where(
            Execution.execution_id == execution_id
        )
        assert started == [{"status": "running"}]
        timeline = await handle.query(ExecutionWorkflow.timeline)
        assert timeline.steps[1].status == "running"

        RELEASE.set()
        assert await handle.result() == "completed"
    ended = await Execution.select(Execution.status).where(Execution.execution_id == execution_id)
    assert ended == [{"status": "completed"}]
    assert await StepRun.count().where(StepRun.execution_id == execution_id) == 2
