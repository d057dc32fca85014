"""The floor for the engine benchmark: a plain Temporal workflow that calls the same action
activities in sequence, with the same options, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from app.temporal.contracts import ActionInput, ActionResult


@dataclass
class BareInput:
    execution_id: str
    workflow_id: str
    calls: list[dict[str, Any]]  # {"action": name, "params": {...}}


@workflow.defn(name="BareActions")
class BareActionsWorkflow:
    @workflow.run
    async def run(self, inp: BareInput) -> int:
        for index, call in enumerate(inp.calls):
            await workflow.execute_activity(
                call["action"],
                ActionInput(inp.execution_id, f"step{index}", call["params"], inp.workflow_id),
                result_type=ActionResult,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        return len(inp.calls)
