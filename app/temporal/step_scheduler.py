"""Which steps of an execution run when: in file order (a definition without `depends_on`), or
side by side as their dependencies finish (`depends_on`, behind the PARALLEL_STEPS patch).

Deterministic workflow code: branches are asyncio tasks of the workflow's own event loop,
started in the graph's order and collected in that order after `workflow.wait_condition`; no
clock, no threads. A step that stops the execution (failed without `continue_on_failure`,
rejected, expired) cancels the branches still running: their steps end "cancelled", saying why.
Every finished step's status and error go into the template context (`steps.<id>.status`,
`steps.<id>.error`), so later conditions and params can branch on them.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from app.domain.definitions import StepDefinition, WorkflowDefinition
    from app.domain.statuses import ExecutionStatus, StepStatus
    from app.domain.step_graph import groups, ready
    from app.temporal.contracts import StepState

# Workflow version (a workflow.patched id; keep it until no execution started before it runs):
# steps of a definition with `depends_on` run side by side. Asked only for such definitions, so
# every history of a sequential one replays unchanged.
PARALLEL_STEPS = "parallel-steps"

RunStep = Callable[[StepDefinition, StepState], Awaitable[StepStatus]]
# Ends a step whose branch was cancelled: (its state, the summary saying why).
CancelStep = Callable[[StepState, str], Awaitable[None]]
Outcome = tuple[ExecutionStatus, str]


def note_outcome(context: dict[str, Any], state: StepState) -> None:
    """Put a finished step's status and error (and, if it has none yet, an empty result and
    its summary) in the template context under `steps.<id>`."""
    entry = context["steps"].setdefault(state.id, {"result": {}, "summary": state.summary})
    entry["status"], entry["error"] = str(state.status), state.error


def stopping_outcome(step: StepDefinition, state: StepState, result: StepStatus) -> Outcome | None:
    """The execution's end when this step's result stops it, else None."""
    if result in (StepStatus.COMPLETED, StepStatus.SKIPPED, StepStatus.CANCELLED):
        return None
    if result == StepStatus.FAILED:
        if step.continue_on_failure:
            return None
        return ExecutionStatus.FAILED, f"{step.name} failed: {state.error}"
    # rejected or expired
    summary = f"{state.summary[:1].lower()}{state.summary[1:]}"
    return ExecutionStatus(result), f"{step.name} {summary}"


def completed_outcome(tolerated: list[str]) -> Outcome:
    """The end of an execution that no step stopped (`tolerated`: failed steps' names)."""
    if tolerated:
        return (
            ExecutionStatus.COMPLETED,
            f"Completed; {', '.join(tolerated)} failed (continue_on_failure)",
        )
    return ExecutionStatus.COMPLETED, "All steps completed"


def tolerated_failure(step: StepDefinition, result: StepStatus) -> bool:
    return result == StepStatus.FAILED and step.continue_on_failure


async def run_in_order(
    definition: WorkflowDefinition,
    states: list[StepState],
    context: dict[str, Any],
    run_step: RunStep,
) -> Outcome:
    """Run the steps one after another until one stops the execution: its status and outcome."""
    tolerated: list[str] = []
    for step, state in zip(definition.steps, states, strict=True):
        result = await run_step(step, state)
        note_outcome(context, state)
        stop = stopping_outcome(step, state, result)
        if stop:
            return stop
        if tolerated_failure(step, result):
            tolerated.append(step.name)
    return completed_outcome(tolerated)


class StepScheduler:
    """Runs a `depends_on` definition's steps as their dependencies finish."""

    def __init__(
        self,
        definition: WorkflowDefinition,
        states: list[StepState],
        context: dict[str, Any],
        run_step: RunStep,
        cancel_step: CancelStep,
    ) -> None:
        self.graph = definition.step_graph()
        self.steps = {step.id: step for step in definition.steps}
        self.states = {state.id: state for state in states}
        self.context = context
        self.run_step = run_step
        self.cancel_step = cancel_step
        self.cancel_reason = ""  # set while branches are being cancelled by a stopping step

    @property
    def groups(self) -> list[list[str]]:
        """The steps level by level, as the timeline shows them side by side."""
        return groups(self.graph)

    async def run(self) -> Outcome:
        """Run every step once its dependencies have finished; the execution's end."""
        tasks: dict[str, asyncio.Task[StepStatus]] = {}
        finished: set[str] = set()
        tolerated: list[str] = []
        try:
            while True:
                for step_id in ready(self.graph, finished, tasks):
                    step, state = self.steps[step_id], self.states[step_id]
                    tasks[step_id] = asyncio.create_task(self._branch(step, state))
                running = [task for step_id, task in tasks.items() if step_id not in finished]
                if not running:
                    return completed_outcome(tolerated)
                await workflow.wait_condition(functools.partial(_any_done, running))
                for step_id, task in tasks.items():  # in start order: deterministic
                    if step_id in finished or not task.done():
                        continue
                    finished.add(step_id)
                    step, state = self.steps[step_id], self.states[step_id]
                    result = task.result()
                    note_outcome(self.context, state)
                    stop = stopping_outcome(step, state, result)
                    if stop:
                        await self._cancel_branches(tasks, finished, f"{step.name} {result.label}")
                        return stop
                    if tolerated_failure(step, result):
                        tolerated.append(step.name)
        except asyncio.CancelledError:
            # The execution itself is cancelled: end every branch, then let the workflow record
            # the cancellation (its handler marks the steps they were running).
            await self._cancel_branches(tasks, finished, "")
            raise

    async def _cancel_branches(
        self, tasks: dict[str, asyncio.Task[StepStatus]], finished: set[str], reason: str
    ) -> None:
        """Cancel the branches still running and wait until each has ended."""
        running = [task for step_id, task in tasks.items() if step_id not in finished]
        self.cancel_reason = reason
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def _branch(self, step: StepDefinition, state: StepState) -> StepStatus:
        """One step as a branch: cancelled because another step stopped the execution, it
        ends "cancelled" naming that step."""
        try:
            return await self.run_step(step, state)
        except (asyncio.CancelledError, ActivityError):
            if not self.cancel_reason:
                raise
            await self.cancel_step(state, f"Cancelled: {self.cancel_reason}")
            return StepStatus.CANCELLED


def _any_done(tasks: list[asyncio.Task[StepStatus]]) -> bool:
    return any(task.done() for task in tasks)
