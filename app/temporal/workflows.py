"""The one generic, deterministic workflow that interprets any workflow definition."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from app.domain.definitions import StepDefinition
    from app.domain.modes import DeploymentMode
    from app.domain.templating import TemplateProblem, evaluate_condition, render_value
    from app.temporal.contracts import (
        WORKFLOW_TYPE,
        ActionInput,
        ActionResult,
        ExecutionFinished,
        ExecutionInput,
        ExecutionStarted,
        StepRunRecord,
        StepState,
        Timeline,
    )
    from app.temporal.recording import (
        record_execution_finished,
        record_execution_started,
        record_step_run,
    )

# Recording must survive a database outage: retry without limit, a little slower each time.
_RECORDING_TIMEOUT = timedelta(seconds=30)
_RECORDING_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))


@workflow.defn(name=WORKFLOW_TYPE)
class ExecutionWorkflow:
    def __init__(self) -> None:
        self._timeline: Timeline | None = None

    @workflow.run
    async def run(self, inp: ExecutionInput) -> str:
        definition = inp.definition
        now = workflow.now().isoformat()
        self._timeline = Timeline(
            execution_id=inp.execution_id,
            workflow_id=definition.id,
            workflow_name=definition.name,
            definition_hash=definition.version_hash,
            status="running",
            started_by=inp.started_by,
            started_at=now,
            ended_at="",
            outcome="",
            version=1,
            steps=[
                StepState(id=s.id, name=s.name, action=s.action, impact=s.impact, mode="")
                for s in definition.steps
            ],
        )
        await workflow.execute_activity(
            record_execution_started,
            ExecutionStarted(
                execution_id=inp.execution_id,
                workflow_id=definition.id,
                workflow_name=definition.name,
                definition_hash=definition.version_hash,
                input=inp.input,
                started_by=inp.started_by,
                started_at=now,
            ),
            start_to_close_timeout=_RECORDING_TIMEOUT,
            retry_policy=_RECORDING_RETRY,
        )
        context: dict[str, Any] = {
            "input": inp.input,
            "steps": {},
            "execution": {"id": inp.execution_id, "started_by": inp.started_by},
        }
        status, outcome = "completed", "All steps completed"
        for step, state in zip(definition.steps, self._timeline.steps, strict=True):
            ok = await self._run_step(inp, step, state, context)
            if not ok and not step.continue_on_failure:
                status, outcome = "failed", f"{step.name} failed: {state.error}"
                break
        self._timeline.status = status
        self._timeline.outcome = outcome
        self._timeline.ended_at = workflow.now().isoformat()
        self._bump()
        await workflow.execute_activity(
            record_execution_finished,
            ExecutionFinished(inp.execution_id, status, outcome, self._timeline.ended_at),
            start_to_close_timeout=_RECORDING_TIMEOUT,
            retry_policy=_RECORDING_RETRY,
        )
        return status

    async def _run_step(
        self,
        inp: ExecutionInput,
        step: StepDefinition,
        state: StepState,
        context: dict[str, Any],
    ) -> bool:
        """Run one step; False when it failed."""
        try:
            if step.condition and not evaluate_condition(step.condition, context):
                state.status = "skipped"
                state.summary = f"Skipped: {step.condition} is false"
                self._bump()
                return True
            params = render_value(step.params, context)
        except TemplateProblem as exc:
            self._finish_step(state, "failed", error=str(exc))
            await self._record(inp, state)
            return False
        # Modes and approvals arrive with the step engine; until then every step runs itself.
        state.mode = DeploymentMode.ALWAYS_AUTO.value
        state.status = "running"
        state.started_at = workflow.now().isoformat()
        self._bump()
        try:
            result = await workflow.execute_activity(
                step.action,
                ActionInput(execution_id=inp.execution_id, step_id=step.id, params=params),
                result_type=ActionResult,
                start_to_close_timeout=timedelta(seconds=step.timeout_seconds),
                retry_policy=RetryPolicy(
                    maximum_attempts=step.retry.maximum_attempts,
                    initial_interval=timedelta(seconds=step.retry.initial_interval_seconds),
                    backoff_coefficient=step.retry.backoff_coefficient,
                ),
            )
        except ActivityError as exc:
            cause = exc.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
            self._finish_step(state, "failed", error=message)
            await self._record(inp, state)
            return False
        context["steps"][step.id] = {"result": result.data, "summary": result.summary}
        state.result = result.data
        self._finish_step(state, "completed", summary=result.summary)
        await self._record(inp, state)
        return True

    def _finish_step(
        self, state: StepState, status: str, summary: str = "", error: str = ""
    ) -> None:
        ended = workflow.now()
        state.status = status
        state.summary = summary
        state.error = error
        state.ended_at = ended.isoformat()
        if state.started_at:
            started = datetime.fromisoformat(state.started_at)
            state.duration_ms = int((ended - started).total_seconds() * 1000)
        self._bump()

    async def _record(self, inp: ExecutionInput, state: StepState) -> None:
        await workflow.execute_activity(
            record_step_run,
            StepRunRecord(
                execution_id=inp.execution_id,
                workflow_id=inp.definition.id,
                step_id=state.id,
                mode=state.mode,
                status=state.status,
                started_at=state.started_at,
                ended_at=state.ended_at,
                duration_ms=state.duration_ms,
                summary=state.summary,
                error=state.error,
            ),
            start_to_close_timeout=_RECORDING_TIMEOUT,
            retry_policy=_RECORDING_RETRY,
        )

    def _bump(self) -> None:
        assert self._timeline is not None
        self._timeline.version += 1

    @workflow.query
    def timeline(self) -> Timeline:
        if self._timeline is None:
            raise ApplicationError("execution has not started yet")
        return self._timeline
