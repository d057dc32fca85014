"""The floor for the parallel benchmark: a plain Temporal workflow that runs the same activities
as the 10-step `depends_on` definition — the first, then the five independent ones together
with `asyncio.gather`, then the last four in turn — with the same options, and nothing else."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from app.temporal.contracts import ActionInput, ActionResult


@dataclass
class BareStages:
    execution_id: str
    workflow_id: str
    # Stages in order; the calls of one stage run side by side. A call: {"action", "params"}.
    stages: list[list[dict[str, Any]]]


@workflow.defn(name="BareParallelActions")
class BareParallelWorkflow:
    @workflow.run
    async def run(self, inp: BareStages) -> int:
        done = 0
        for stage in inp.stages:
            calls = [self._call(inp, f"step{done + i}", call) for i, call in enumerate(stage)]
            await asyncio.gather(*calls)
            done += len(stage)
        return done

    @staticmethod
    async def _call(inp: BareStages, step_id: str, call: dict[str, Any]) -> ActionResult:
        return await workflow.execute_activity(
            call["action"],
            ActionInput(inp.execution_id, step_id, call["params"], inp.workflow_id),
            result_type=ActionResult,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
