"""`run:` steps: a step that runs another definition as a Temporal child workflow.

Workflow code (deterministic). The child is the same StepladderExecution workflow type, started
with an ExecutionInput for the child's definition (it travels embedded in the parent's
definition: WorkflowDefinition.children, filled at load) and the step's `input:` rendered from
the parent's context. Its id is `<parent id>-<step id>`, so the parent's timeline can link to it
and a retried start never runs it twice. The child records its own executions and step_runs rows
(its approvals reach the inbox like any other) and its parent close policy is REQUEST_CANCEL:
cancelling the parent cancels the child. The step follows the child: completed, failed,
rejected or expired as the child ends.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from temporalio import workflow
from temporalio.exceptions import CancelledError, ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from app.domain.definitions import StepDefinition, normalise_input, validate_input
    from app.domain.statuses import ExecutionStatus, StepStatus
    from app.domain.templating import TemplateProblem, render_value
    from app.temporal.contracts import WORKFLOW_TYPE, ExecutionInput, StepState
    from app.temporal.record_queue import run_db_activity
    from app.temporal.recording import RecordingActivities

# Workflow version (a workflow.patched id; keep it until no execution started before it runs):
# `run:` steps start child workflows. Asked only when such a step is reached, so every history
# of a definition without `run:` replays unchanged.
CHILD_WORKFLOWS = "child-workflows"

# How the child's end maps onto the parent's step.
_STEP_STATUS = {
    ExecutionStatus.COMPLETED: StepStatus.COMPLETED,
    ExecutionStatus.FAILED: StepStatus.FAILED,
    ExecutionStatus.REJECTED: StepStatus.REJECTED,
    ExecutionStatus.EXPIRED: StepStatus.EXPIRED,
}


class StepOwner(Protocol):
    """What the workflow lends a `run:` step: end a step, record it, say the timeline changed."""

    def _finish_step(
        self, state: StepState, status: StepStatus, summary: str = "", error: str = ""
    ) -> None: ...

    async def _record(self, inp: ExecutionInput, state: StepState) -> None: ...

    def _bump(self) -> None: ...


def child_execution_id(parent_execution_id: str, step_id: str) -> str:
    """The child execution's id (its Temporal workflow id): `<parent>-<step>`."""
    return f"{parent_execution_id}-{step_id}"


async def run_child(
    owner: StepOwner,
    inp: ExecutionInput,
    step: StepDefinition,
    state: StepState,
    context: dict[str, Any],
) -> StepStatus:
    """Run `step`'s child workflow to its end; the step's final status (recorded). Raises
    asyncio.CancelledError when the child was cancelled (the parent or its branch is)."""
    workflow.patched(CHILD_WORKFLOWS)
    state.mode = state.mode or step.default_mode.value
    child = _child_input(inp, step, context)
    if isinstance(child, str):  # what is wrong with the input
        owner._finish_step(state, StepStatus.FAILED, error=child)
        await owner._record(inp, state)
        return StepStatus.FAILED
    state.child_execution_id, state.child_workflow_id = child.execution_id, step.run
    state.status, state.started_at = StepStatus.RUNNING, workflow.now().isoformat()
    state.summary = f"Running {child.definition.name} as execution {child.execution_id}"
    owner._bump()
    try:
        ended = await workflow.execute_child_workflow(
            WORKFLOW_TYPE,
            child,
            id=child.execution_id,
            task_queue=workflow.info().task_queue,
            parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
            result_type=str,
        )
    except ChildWorkflowError as exc:
        if isinstance(exc.cause, CancelledError):
            raise asyncio.CancelledError(f"child {child.execution_id} cancelled") from exc
        cause = str(exc.cause or exc)
        owner._finish_step(state, StepStatus.FAILED, error=f"{child.execution_id}: {cause}")
        await owner._record(inp, state)
        return StepStatus.FAILED
    status = _STEP_STATUS.get(ExecutionStatus(ended), StepStatus.FAILED)
    # The child wrote its end before returning: its outcome in words, from PostgreSQL.
    outcome = await run_db_activity(RecordingActivities.execution_outcome, child.execution_id)
    name = child.definition.name
    state.result = {"execution_id": child.execution_id, "workflow_id": step.run,
                    "status": ended, "outcome": outcome}  # fmt: skip
    said = f" in child execution {child.execution_id} ({name}): {outcome}"
    context["steps"][step.id] = {"result": state.result, "summary": f"{ended.capitalize()}{said}"}
    if status == StepStatus.FAILED:
        owner._finish_step(state, status, error=f"Failed{said}")
    else:
        owner._finish_step(state, status, summary=f"{ended.capitalize()}{said}")
    await owner._record(inp, state)
    return status


def _child_input(
    inp: ExecutionInput, step: StepDefinition, context: dict[str, Any]
) -> ExecutionInput | str:
    """The child's ExecutionInput, or what keeps it from starting (in words)."""
    definition = inp.definition.children.get(step.run)
    if definition is None:
        return f"workflow {step.run!r} did not travel with this definition (reload definitions)"
    try:
        data = render_value(step.input, context)
    except TemplateProblem as exc:
        return str(exc)
    errors = validate_input(definition, data)
    if errors:
        return f"input for {step.run}: {'; '.join(errors.values())}"
    return ExecutionInput(
        execution_id=child_execution_id(inp.execution_id, step.id),
        definition=definition,
        input=normalise_input(definition, data),
        started_by=inp.started_by,
        known_users=inp.known_users,
        started_via=f"run:{inp.execution_id}",
    )
