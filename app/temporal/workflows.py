"""The one generic, deterministic workflow that interprets any workflow definition.

Per step: condition → safety policies (policy_checks.py) → mode (read from PostgreSQL by an
activity, so an admin's change reaches running executions) → for approval modes (or a policy
breach) a preview and impact analysis, then a wait for decisions (`decide` update or
`approve_step` signal) → the action activity → the outcome recorded; query `timeline` for all."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from app.domain.approvals import Decision, Refusal, RefusalKind, approval_request
    from app.domain.definitions import StepDefinition
    from app.domain.modes import DeploymentMode
    from app.domain.statuses import ACTIVE_STEP_STATUSES, ExecutionStatus, StepStatus
    from app.domain.templating import TemplateProblem, evaluate_condition, render_value
    from app.temporal.actions import mode_of_failure
    from app.temporal.amendments import amended_params, with_input_defaults
    from app.temporal.children import run_child
    from app.temporal.contracts import (
        WORKFLOW_TYPE,
        ActionInput,
        ActionResult,
        ApprovalView,
        DecisionOutcome,
        ExecutionFinished,
        ExecutionInput,
        ExecutionStarted,
        ModeLookup,
        StepRunRecord,
        StepState,
        Timeline,
    )
    from app.temporal.decision_desk import DecisionDesk, Waiting, wait_ended
    from app.temporal.notices import ExecutionNotices
    from app.temporal.policy_checks import POLICY_CHECKS, breach_warnings, check_step
    from app.temporal.previews import build_preview
    from app.temporal.record_queue import RecordQueue, run_db_activity
    from app.temporal.recording import RecordingActivities
    from app.temporal.signal_input import BadSignal, decode_signal, shown_under
    from app.temporal.step_scheduler import PARALLEL_STEPS, StepScheduler, run_in_order
    from app.temporal.versions import ACTION_READS_MODE_ONE_RECORD_PATH, APPROVED_RECORDED_RUNNING


@workflow.defn(name=WORKFLOW_TYPE)
class ExecutionWorkflow:
    def __init__(self) -> None:
        self._input: ExecutionInput | None = None
        self._timeline: Timeline | None = None
        self._desk = DecisionDesk()
        self._records = RecordQueue()
        self._notices = ExecutionNotices(self._bump)
        self._parallel = False  # steps run side by side (PARALLEL_STEPS)

    @workflow.run
    async def run(self, inp: ExecutionInput) -> str:
        inp = inp.identified(workflow.info().workflow_id)  # started by a Schedule: id left ""
        self._input = inp
        # Executions started before the patch replay the older path (see the constant).
        self._records = RecordQueue(legacy=not workflow.patched(ACTION_READS_MODE_ONE_RECORD_PATH))
        self._desk.open(inp)
        definition = inp.definition
        now = workflow.now().isoformat()
        timeline = self._timeline = Timeline(
            execution_id=inp.execution_id,
            workflow_id=definition.id,
            workflow_name=definition.name,
            definition_hash=definition.version_hash,
            status=ExecutionStatus.RUNNING,
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
        self._records.started(
            ExecutionStarted(inp.execution_id, definition.id, definition.name,
                             definition.version_hash, inp.input, inp.started_by, now)
        )  # fmt: skip
        execution = {"id": inp.execution_id, "started_by": inp.started_by}
        trigger = inp.input if inp.trigger is None else inp.trigger
        context = {"input": inp.input, "steps": {}, "execution": execution, "trigger": trigger}

        def run_step(step: StepDefinition, state: StepState) -> Any:
            # Side by side, each branch has its own `approval` (shallow copy: `steps` is shared).
            return self._run_step(inp, step, state, dict(context) if self._parallel else context)

        # Only definitions with depends_on ask for the patch: older histories replay unchanged.
        self._parallel = definition.parallel and workflow.patched(PARALLEL_STEPS)
        try:
            if self._parallel:
                scheduler = StepScheduler(
                    definition,
                    timeline.steps,
                    context,
                    run_step,
                    lambda state, why: self._cancel_step(inp, state, why),
                )
                timeline.groups = scheduler.groups
                status, outcome = await scheduler.run()
            else:
                status, outcome = await run_in_order(definition, timeline.steps, context, run_step)
        except asyncio.CancelledError:
            # Cancelled from the API or `temporal workflow cancel`: record it, then end as cancelled.
            self._desk.waiting.clear()
            await self._records.settle()
            for state in timeline.steps:
                if state.status in (StepStatus.WAITING_APPROVAL, *ACTIVE_STEP_STATUSES):
                    await self._cancel_step(inp, state, "Execution cancelled")
            await self._finish(inp, ExecutionStatus.CANCELLED, "Execution cancelled")
            raise
        await self._finish(inp, status, outcome)
        return status

    async def _cancel_step(self, inp: ExecutionInput, state: StepState, summary: str) -> None:
        """End a step that was running or waiting as cancelled, saying why, and record it."""
        self._desk.waiting.pop(state.id, None)
        self._finish_step(state, StepStatus.CANCELLED, summary=summary)
        await self._record(inp, state)

    async def _finish(self, inp: ExecutionInput, status: ExecutionStatus, outcome: str) -> None:
        assert self._timeline is not None
        await self._notices.drain()
        ended_at = workflow.now().isoformat()
        await self._desk.flush()
        # The execution's end is recorded with the last step records, and the timeline says
        # finished only once all are in PostgreSQL — during a database outage the execution
        # stays "running" until they are.
        await self._records.finished(ExecutionFinished(inp.execution_id, status, outcome, ended_at))
        self._timeline.status = status
        self._timeline.outcome = outcome
        self._timeline.ended_at = ended_at
        self._bump()

    async def _run_step(
        self,
        inp: ExecutionInput,
        step: StepDefinition,
        state: StepState,
        context: dict[str, Any],
    ) -> StepStatus:
        """Run one step; returns its final status (completed, skipped, failed, rejected, expired)."""
        try:
            if step.condition and not evaluate_condition(step.condition, context):
                summary = f"Skipped: {step.condition} is false"
                self._finish_step(state, StepStatus.SKIPPED, summary=summary)
                await self._record(inp, state)
                return StepStatus.SKIPPED
            with_input_defaults(step, context)
            params = render_value(step.params, context)
        except TemplateProblem as exc:
            self._finish_step(state, StepStatus.FAILED, error=str(exc))
            await self._record(inp, state)
            return StepStatus.FAILED
        forced = False  # a require_approval policy breach: the step waits whatever its mode
        if inp.definition.policy and workflow.patched(POLICY_CHECKS):
            policy = await check_step(inp, step, state, params, self._bump)
            if policy.denied:
                self._finish_step(state, StepStatus.POLICY_DENIED, summary=policy.denied)
                await self._record(inp, state)
                return StepStatus.POLICY_DENIED
            forced = policy.forced
        if step.run:  # a child workflow (app/temporal/children.py, CHILD_WORKFLOWS)
            return await run_child(self, inp, step, state, context)

        # Reached: one activity reads the step's mode and, when it is automatic, runs the action
        # straight away. While it is out the step shows "running" with no mode yet; a step whose
        # mode asks for approval moves on to "preparing" within milliseconds.
        lookup = ModeLookup(inp.definition.id, step.id, step.default_mode.value)
        # Executions started before the patch (tests/histories/v1) read the mode in a local
        # activity first; they replay down that path, every new one takes the single activity.
        if not self._records.legacy and not forced:
            reached = await self._run_action(inp, step, state, params, context, lookup, check=True)
            if reached is not None:
                return reached
        if not state.mode:  # the activity could not read it: read it again, retrying
            state.summary = "Waiting for PostgreSQL to read this step's mode…"
            self._bump()
            state.mode = await run_db_activity(RecordingActivities.resolve_step_mode, lookup)
            state.summary = ""
            self._bump()
        approved = False
        if forced or DeploymentMode(state.mode).needs_approval:
            verdict = await self._await_decisions(inp, step, state, params, context)
            if verdict != StepStatus.APPROVED:
                await self._record(inp, state)
                return verdict
            assert state.approval is not None
            params = amended_params(step, state, state.approval, params, context)
            approved = workflow.patched(APPROVED_RECORDED_RUNNING)
        ran = await self._run_action(
            inp, step, state, params, context, lookup, check=False, record_start=approved
        )
        assert ran is not None  # unchecked, the action always runs
        return ran

    async def _run_action(
        self,
        inp: ExecutionInput,
        step: StepDefinition,
        state: StepState,
        params: dict[str, Any],
        context: dict[str, Any],
        lookup: ModeLookup,
        *,
        check: bool,
        record_start: bool = False,
    ) -> StepStatus | None:
        """Run the step's action activity: completed or failed (recorded), or None when, asked
        to check the mode first, the activity found it needs approval (or could not read it).
        `record_start`: its start is recorded too (an approved step's row stops saying waiting)."""
        state.status = StepStatus.RUNNING
        state.started_at = workflow.now().isoformat()
        self._bump()
        if record_start:
            await self._record(inp, state)
        try:
            result = await workflow.execute_activity(
                step.action,
                ActionInput(
                    inp.execution_id,
                    step.id,
                    params,
                    inp.definition.id,
                    check_mode=lookup if check else None,
                ),
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
            if self._parallel and isinstance(cause, CancelledError):
                raise  # its branch was cancelled (app/temporal/step_scheduler.py)
            message = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
            state.mode = state.mode or mode_of_failure(cause)
            if not state.mode:  # timed out before it could say: the mode it would have used
                state.mode = await run_db_activity(RecordingActivities.resolve_step_mode, lookup)
            self._finish_step(state, StepStatus.FAILED, error=message)
            await self._record(inp, state)
            return StepStatus.FAILED
        if not result.ran:
            state.mode, state.status, state.started_at = result.mode, StepStatus.PENDING, ""
            self._bump()
            return None
        state.mode = state.mode or result.mode
        context["steps"][step.id] = {"result": result.data, "summary": result.summary}
        state.result = result.data
        self._finish_step(state, StepStatus.COMPLETED, summary=result.summary)
        await self._record(inp, state)
        return StepStatus.COMPLETED

    async def _await_decisions(
        self,
        inp: ExecutionInput,
        step: StepDefinition,
        state: StepState,
        params: dict[str, Any],
        context: dict[str, Any],
    ) -> StepStatus:
        """Preview, then wait for decisions until approved, rejected or timed out."""
        state.status = StepStatus.PREPARING
        self._bump()
        state.preview = await build_preview(inp, step, params)
        state.preview.impact[:0] = breach_warnings(state.policy_checks)
        try:
            request = approval_request(step, context, inp.started_by, params)
        except TemplateProblem as exc:  # an approval input's bound could not be rendered
            self._finish_step(state, StepStatus.FAILED, error=str(exc))
            return StepStatus.FAILED
        since = workflow.now()
        deadline = since + timedelta(seconds=step.approval_timeout_seconds)
        state.approval = ApprovalView.asking(request, since.isoformat(), deadline.isoformat())
        waiting = self._desk.waiting[step.id] = Waiting(request=request, state=state)
        state.status = StepStatus.WAITING_APPROVAL
        self._bump()
        await self._record(inp, state)
        notices = self._notices.waiting(inp, step, state, since, deadline)
        desk = self._desk
        while not waiting.verdict:
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                break
            try:
                await workflow.wait_condition(
                    lambda: bool(waiting.verdict or desk.has_unrecorded), timeout=remaining
                )
            except TimeoutError:
                break
            await desk.flush()
        desk.waiting.pop(step.id, None)  # from here on decisions are refused as "not waiting"
        await desk.flush()
        status, summary = wait_ended(step, waiting)
        self._notices.ended(notices, status, waiting)
        if status != StepStatus.APPROVED:
            self._finish_step(state, status, summary=summary)
        return status

    # --- decisions: the update (with validator) and the signal share one rule set --------------

    @workflow.update
    def decide(self, decision: Decision) -> DecisionOutcome:
        state = self._step_state(decision.step_id)
        refused = self._desk.refusal(decision, state) or self._desk.too_late(decision)
        if refused:  # the validator ran in the same task; a late one is shown on the step
            if state is not None and refused.kind == RefusalKind.TOO_LATE:
                self._desk.ignore(decision, refused, state)
                self._bump()
            raise ApplicationError(refused.message, type=refused.kind.value, non_retryable=True)
        outcome = self._desk.accept(decision)
        self._bump()
        return outcome

    @decide.validator
    def validate_decision(self, decision: Decision) -> None:
        refused = self._desk.refusal(decision, self._step_state(decision.step_id))
        if refused:
            # Refused here, the decision never enters history; the caller gets kind + message.
            raise ApplicationError(refused.message, type=refused.kind.value, non_retryable=True)

    @workflow.signal
    def approve_step(self, payload: RawValue) -> None:
        """The same decision as a signal (`temporal workflow signal --name approve_step`). Its
        payload is read here, not by the SDK (which drops what it cannot convert): one that is
        not a decision is ignored like a refused one, with the reason under the step."""
        read = decode_signal(payload)
        refused: Refusal | None
        if isinstance(read, BadSignal):
            decision, refused = read.decision, Refusal(RefusalKind.INCOMPLETE, read.reason)
            state = self._step_state(decision.step_id)
        else:
            decision, state = read, self._step_state(read.step_id)
            refused = self._desk.refusal(decision, state) or self._desk.too_late(decision)
        if refused is None:
            self._desk.accept(decision)
            self._bump()
            return
        workflow.logger.warning("approve_step signal ignored: %s", refused.message)
        target = shown_under(state, self._desk.first_waiting(), self._timeline)
        if target is not None:
            self._desk.ignore(decision, refused, target)
            self._bump()

    # --- helpers --------------------------------------------------------------------------------

    def _step_state(self, step_id: str) -> StepState | None:
        if self._timeline is None:
            return None
        return next((s for s in self._timeline.steps if s.id == step_id), None)

    def _finish_step(
        self, state: StepState, status: StepStatus, summary: str = "", error: str = ""
    ) -> None:
        state.end(status, workflow.now(), summary, error)
        self._bump()

    async def _record(self, inp: ExecutionInput, state: StepState) -> None:
        """Queue the step's outcome (see RecordQueue), once the decisions before it are in."""
        await self._desk.flush()
        self._records.step_run(StepRunRecord.of(inp.execution_id, inp.definition.id, state))

    def _bump(self) -> None:
        assert self._timeline is not None
        self._timeline.version += 1

    @workflow.query
    def timeline(self) -> Timeline:
        if self._timeline is None:
            raise ApplicationError("execution has not started yet")
        return self._timeline
