"""The one generic, deterministic workflow that interprets any workflow definition.

Per step: condition → mode (read from PostgreSQL by an activity, so an admin's change reaches
running executions) → for approval modes a preview and impact analysis, then a wait for
decisions (the `decide` update with its validator, or the `approve_step` signal) → the action
activity → the outcome recorded. The `timeline` query returns everything a page shows.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from app.domain.approvals import (
        ApprovalRequest,
        Approver,
        Decision,
        DecisionAction,
        Refusal,
        RefusalKind,
        approval_request,
        approvals_complete,
        refusal,
    )
    from app.domain.definitions import StepDefinition
    from app.domain.identity import DEMO_USERS
    from app.domain.modes import DeploymentMode
    from app.domain.templating import TemplateProblem, evaluate_condition, render_value
    from app.temporal.actions import mode_of_failure
    from app.temporal.contracts import (
        WORKFLOW_TYPE,
        ActionInput,
        ActionResult,
        ApprovalView,
        DecisionInput,
        DecisionOutcome,
        DecisionRecord,
        DecisionView,
        ExecutionFinished,
        ExecutionInput,
        ExecutionStarted,
        ImpactWarning,
        ModeLookup,
        OperationPreview,
        PreviewRequest,
        ProgressRecord,
        StepRunBatch,
        StepRunRecord,
        StepState,
        Timeline,
    )
    from app.temporal.previews import build_preview
    from app.temporal.recording import (
        record_decision,
        record_execution_finished,
        record_execution_started,
        record_progress,
        record_step_runs,
        resolve_step_mode,
    )

# Records and mode lookups must survive a database outage: retry without limit, backing off.
_DB_TIMEOUT = timedelta(seconds=30)
_DB_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
# A preview that cannot be built must not block the approver forever: give up and say so.
_PREVIEW_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=10))
# Records (start, step outcomes) wait at most this long to be written (a workflow timer).
FLUSH_AFTER = timedelta(seconds=1)

SYSTEM_USER = "stepladder"
# Workflow versions (workflow.patched ids): keep each until no execution started before it runs.
MODE_READ_WITH_ACTION = "mode-read-with-action"


@dataclass
class _Waiting:
    """The one step currently waiting for decisions."""

    request: ApprovalRequest
    state: StepState
    approved_by: list[str] = field(default_factory=list)
    verdict: str = ""  # "approved" | "rejected" once decided
    decided_by: str = ""
    reason: str = ""


@workflow.defn(name=WORKFLOW_TYPE)
class ExecutionWorkflow:
    def __init__(self) -> None:
        self._input: ExecutionInput | None = None
        self._timeline: Timeline | None = None
        self._waiting: _Waiting | None = None
        self._unrecorded_decisions: list[DecisionRecord] = []
        self._decision_count = 0
        # Outcome records run beside the next steps (the step is not waiting on PostgreSQL);
        # all are settled before the execution records its end.
        self._recording: list[asyncio.Future[Any]] = []
        # What is not yet sent to PostgreSQL: written together at most FLUSH_AFTER later, at
        # once when a step starts waiting (the inbox reads it), and with the execution's end.
        self._pending = ProgressRecord()
        self._flush_timer: asyncio.Task[None] | None = None
        self._started = ExecutionStarted("", "", "", "", {}, "", "")
        # Executions started before MODE_READ_WITH_ACTION replay the older path: a mode lookup
        # before each action, one record activity per start/end, step outcomes in batches.
        self._current = True
        self._unflushed_step_runs: list[StepRunRecord] = []
        self._unflushed_since: datetime | None = None

    @workflow.run
    async def run(self, inp: ExecutionInput) -> str:
        self._input = inp
        self._current = workflow.patched(MODE_READ_WITH_ACTION)
        definition = inp.definition
        now = workflow.now().isoformat()
        timeline = self._timeline = Timeline(
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
        self._started = ExecutionStarted(
            execution_id=inp.execution_id,
            workflow_id=definition.id,
            workflow_name=definition.name,
            definition_hash=definition.version_hash,
            input=inp.input,
            started_by=inp.started_by,
            started_at=now,
        )
        if self._current:
            # No activity before the first step: the start is written with the first records.
            self._pending.started = self._started
            self._flush_soon()
        else:
            self._started_record = self._record_later(record_execution_started, self._started)
        context: dict[str, Any] = {
            "input": inp.input,
            "steps": {},
            "execution": {"id": inp.execution_id, "started_by": inp.started_by},
        }
        status, outcome = "completed", "All steps completed"
        tolerated: list[str] = []  # failed steps marked continue_on_failure
        try:
            for step, state in zip(definition.steps, timeline.steps, strict=True):
                result = await self._run_step(inp, step, state, context)
                if result in ("completed", "skipped"):
                    continue
                if result == "failed":
                    if step.continue_on_failure:
                        tolerated.append(step.name)
                        continue
                    status, outcome = "failed", f"{step.name} failed: {state.error}"
                else:  # rejected or expired
                    status, outcome = (
                        result,
                        f"{step.name} {state.summary[:1].lower()}{state.summary[1:]}",
                    )
                break
        except asyncio.CancelledError:
            # Cancelled from the API or `temporal workflow cancel`: record it, then end as cancelled.
            self._waiting = None
            await self._settle_records()
            for state in timeline.steps:
                if state.status in ("preparing", "waiting_approval", "approved", "running"):
                    self._finish_step(state, "cancelled", summary="Execution cancelled")
                    await self._record(inp, state)
            await self._finish(inp, "cancelled", "Execution cancelled")
            raise
        if status == "completed" and tolerated:
            outcome = f"Completed; {', '.join(tolerated)} failed (continue_on_failure)"
        await self._finish(inp, status, outcome)
        return status

    async def _finish(self, inp: ExecutionInput, status: str, outcome: str) -> None:
        assert self._timeline is not None
        ended_at = workflow.now().isoformat()
        await self._flush_decisions()
        # The execution's end is recorded with the last step records, and the timeline says
        # finished only once all are in PostgreSQL — during a database outage the execution
        # stays "running" until they are.
        finished = ExecutionFinished(inp.execution_id, status, outcome, ended_at)
        if self._current:
            self._pending.started, self._pending.finished = self._started, finished
        else:  # the end updates the row the start inserted: wait for that record
            await asyncio.shield(self._started_record)
            self._record_later(record_execution_finished, finished)
        await self._settle_records()
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
    ) -> str:
        """Run one step; returns its final status (completed, skipped, failed, rejected, expired)."""
        try:
            if step.condition and not evaluate_condition(step.condition, context):
                self._finish_step(state, "skipped", summary=f"Skipped: {step.condition} is false")
                await self._record(inp, state)
                return "skipped"
            params = render_value(step.params, context)
        except TemplateProblem as exc:
            self._finish_step(state, "failed", error=str(exc))
            await self._record(inp, state)
            return "failed"

        # Reached: one activity reads the step's mode and, when it is automatic, runs the action
        # straight away. While it is out the step shows "running" with no mode yet; a step whose
        # mode asks for approval moves on to "preparing" within milliseconds.
        lookup = ModeLookup(inp.definition.id, step.id, step.default_mode.value)
        # Executions started before this (tests/histories/v1) read the mode in a local activity
        # first; they replay down that path, every new one takes the single activity.
        if self._current:
            reached = await self._run_action(inp, step, state, params, context, lookup, check=True)
            if reached in ("completed", "failed"):
                return reached
        if not state.mode:  # the activity could not read it: read it again, retrying
            state.summary = "Waiting for PostgreSQL to read this step's mode…"
            self._bump()
            state.mode = await self._db(resolve_step_mode, lookup)
            state.summary = ""
            self._bump()
        if DeploymentMode(state.mode).needs_approval:
            verdict = await self._await_decisions(inp, step, state, params, context)
            if verdict != "approved":
                await self._record(inp, state)
                return verdict
        return await self._run_action(inp, step, state, params, context, lookup, check=False)

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
    ) -> str:
        """Run the step's action activity: "completed" or "failed" (recorded), or "held" when,
        asked to check the mode first, the activity found it needs approval (or unreadable)."""
        state.status = "running"
        state.started_at = workflow.now().isoformat()
        self._bump()
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
            message = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
            state.mode = state.mode or mode_of_failure(cause)
            if not state.mode:  # timed out before it could say: the mode it would have used
                state.mode = await self._db(resolve_step_mode, lookup)
            self._finish_step(state, "failed", error=message)
            await self._record(inp, state)
            return "failed"
        if not result.ran:
            state.mode, state.status, state.started_at = result.mode, "pending", ""
            self._bump()
            return "held"
        state.mode = state.mode or result.mode
        context["steps"][step.id] = {"result": result.data, "summary": result.summary}
        state.result = result.data
        self._finish_step(state, "completed", summary=result.summary)
        await self._record(inp, state)
        return "completed"

    async def _await_decisions(
        self,
        inp: ExecutionInput,
        step: StepDefinition,
        state: StepState,
        params: dict[str, Any],
        context: dict[str, Any],
    ) -> str:
        """Preview, then wait for decisions until approved, rejected or timed out."""
        state.status = "preparing"
        self._bump()
        state.preview = await self._preview(inp, step, params)
        request = approval_request(step, context, inp.started_by)
        since = workflow.now()
        deadline = since + timedelta(seconds=step.approval_timeout_seconds)
        state.approval = ApprovalView(
            confirmations=request.confirmations,
            typed_phrase=request.typed_phrase,
            required_approvals=request.required_approvals,
            approvers_group=request.approvers_group,
            four_eyes=request.four_eyes,
            started_by=request.started_by,
            waiting_since=since.isoformat(),
            expires_at=deadline.isoformat(),
        )
        waiting = self._waiting = _Waiting(request=request, state=state)
        state.status = "waiting_approval"
        self._bump()
        await self._record(inp, state)
        while not waiting.verdict:
            remaining = (deadline - workflow.now()).total_seconds()
            if remaining <= 0:
                break
            try:
                await workflow.wait_condition(
                    lambda: bool(waiting.verdict or self._unrecorded_decisions), timeout=remaining
                )
            except TimeoutError:
                break
            await self._flush_decisions()
        self._waiting = None  # from here on every decision is refused as "not waiting"
        await self._flush_decisions()

        if not waiting.verdict:
            minutes = step.approval_timeout_seconds / 60
            why = f"No decision within {minutes:g} minute{'s' if minutes != 1 else ''}"
            if step.on_timeout == "reject":
                waiting.verdict, waiting.decided_by, waiting.reason = "rejected", SYSTEM_USER, why
            else:
                self._finish_step(state, "expired", summary=f"Expired: {why.lower()}")
                return "expired"
        if waiting.verdict == "rejected":
            self._finish_step(
                state, "rejected", summary=f"Rejected by {waiting.decided_by}: {waiting.reason}"
            )
            return "rejected"
        return "approved"

    async def _preview(
        self, inp: ExecutionInput, step: StepDefinition, params: dict[str, Any]
    ) -> OperationPreview:
        request = PreviewRequest(
            execution_id=inp.execution_id,
            workflow_id=inp.definition.id,
            step_id=step.id,
            action=step.action,
            impact=step.impact,
            environment=step.environment,
            params=params,
        )
        try:
            return await workflow.execute_activity(
                build_preview, request, start_to_close_timeout=_DB_TIMEOUT,
                retry_policy=_PREVIEW_RETRY,
            )  # fmt: skip
        except ActivityError as exc:
            # Still ask for a decision, but say plainly that the approver decides blind.
            return OperationPreview(
                operation=step.action.upper(),
                target=step.action,
                environment=step.environment,
                summary="Preview unavailable",
                impact=[
                    ImpactWarning("critical", f"Preview could not be built: {exc.cause or exc}")
                ],
            )

    # --- decisions: the update (with validator) and the signal share one rule set --------------

    @workflow.update
    def decide(self, decision: DecisionInput) -> DecisionOutcome:
        refused = self._refusal(decision)
        if refused:  # the validator ran in the same task; this only guards against misuse
            raise ApplicationError(refused.message, type=refused.kind.value, non_retryable=True)
        return self._accept(decision)

    @decide.validator
    def validate_decision(self, decision: DecisionInput) -> None:
        refused = self._refusal(decision)
        if refused:
            # Refused here, the decision never enters history; the caller gets kind + message.
            raise ApplicationError(refused.message, type=refused.kind.value, non_retryable=True)

    @workflow.signal
    def approve_step(self, decision: DecisionInput) -> None:
        """The same decision as a signal (`temporal workflow signal --name approve_step`)."""
        refused = self._refusal(decision)
        if refused is None:
            self._accept(decision)
            return
        workflow.logger.warning("approve_step signal ignored: %s", refused.message)
        target = self._step_state(decision.step_id) or (
            self._waiting.state if self._waiting else None
        )
        if target is not None:
            target.ignored_signals.append(
                f"{workflow.now().isoformat()} · {decision.user_id or 'unknown user'} "
                f"({decision.action or 'no action'}): {refused.message}"
            )
            self._queue_record(decision, _view(decision), accepted=False, refusal=refused.message)
            self._bump()

    def _refusal(self, d: DecisionInput) -> Refusal | None:
        state = self._step_state(d.step_id)
        if state is None:
            return Refusal(RefusalKind.UNKNOWN_STEP, f"no step {d.step_id!r} in this execution")
        waiting = self._waiting
        if waiting is None or waiting.state is not state or waiting.verdict:
            status = state.status.replace("_", " ")
            return Refusal(
                RefusalKind.NOT_WAITING,
                f"step {d.step_id!r} is not waiting for approval (it is {status})",
            )
        approver = _approver(d)
        if approver is None:
            return Refusal(
                RefusalKind.FORBIDDEN,
                f"unknown user {d.user_id!r}: name a known user or send their roles",
            )
        decision = Decision(
            step_id=d.step_id,
            user_id=d.user_id,
            action=d.action,
            reason=d.reason,
            confirmations=list(d.confirmations),
            typed_confirmation=d.typed_confirmation,
            source=d.source,
        )
        return refusal(waiting.request, decision, approver, waiting.approved_by)

    def _accept(self, d: DecisionInput) -> DecisionOutcome:
        waiting = self._waiting
        assert waiting is not None
        state = waiting.state
        view = _view(d)
        state.decisions.append(view)
        self._queue_record(d, view, accepted=True)
        if d.action == DecisionAction.REJECTED:
            waiting.verdict, waiting.decided_by, waiting.reason = "rejected", d.user_id, d.reason
            state.status = "rejected"
        else:
            waiting.approved_by.append(d.user_id)
            if approvals_complete(waiting.request, waiting.approved_by):
                waiting.verdict, waiting.decided_by = "approved", d.user_id
                state.status = "approved"
        self._bump()
        return DecisionOutcome(
            step_id=state.id,
            step_status=state.status,
            approvals=len(waiting.approved_by),
            required_approvals=waiting.request.required_approvals,
        )

    def _queue_record(
        self, d: DecisionInput, view: DecisionView, *, accepted: bool, refusal: str = ""
    ) -> None:
        assert self._input is not None
        self._decision_count += 1
        self._unrecorded_decisions.append(
            DecisionRecord(
                decision_key=f"{self._input.execution_id}/{d.step_id}/{self._decision_count}",
                execution_id=self._input.execution_id,
                workflow_id=self._input.definition.id,
                step_id=d.step_id,
                accepted=accepted,
                refusal=refusal,
                **asdict(view),
            )
        )

    async def _flush_decisions(self) -> None:
        while self._unrecorded_decisions:
            await self._db(record_decision, self._unrecorded_decisions[0])
            self._unrecorded_decisions.pop(0)

    # --- helpers --------------------------------------------------------------------------------

    def _step_state(self, step_id: str) -> StepState | None:
        if self._timeline is None:
            return None
        return next((s for s in self._timeline.steps if s.id == step_id), None)

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
        """Queue the step's outcome. Records are written together by one local activity: at
        most FLUSH_AFTER after they are queued, at once when a step starts waiting (the inbox
        reads that row), and with the execution's end — so steps that run back to back cost
        no activity of their own."""
        await self._flush_decisions()
        run = StepRunRecord(
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
        )
        if self._current:
            self._pending.step_runs.append(run)
            if state.status == "waiting_approval":
                self._flush_records()
            else:
                self._flush_soon()
            return
        now = workflow.now()
        self._unflushed_step_runs.append(run)
        self._unflushed_since = self._unflushed_since or now
        if state.status == "waiting_approval" or now - self._unflushed_since >= FLUSH_AFTER:
            self._flush_records()

    def _flush_soon(self) -> None:
        """Make sure what is pending is written within FLUSH_AFTER (a workflow timer: no extra
        work unless an execution runs that long)."""
        if self._flush_timer is None or self._flush_timer.done():
            self._flush_timer = asyncio.create_task(self._flush_after_delay())

    async def _flush_after_delay(self) -> None:
        await workflow.sleep(FLUSH_AFTER)
        self._flush_records()

    def _flush_records(self) -> None:
        if self._pending:
            self._record_later(record_progress, self._pending)
            self._pending = ProgressRecord()
        if self._unflushed_step_runs:
            self._record_later(record_step_runs, StepRunBatch(self._unflushed_step_runs))
            self._unflushed_step_runs, self._unflushed_since = [], None

    # Records are short, idempotent PostgreSQL writes: local activities, run by this worker
    # without a round trip through the server per record. (A retry after a worker crash may
    # run one twice; the upserts make that harmless.)
    async def _db(self, activity: Any, arg: Any) -> Any:
        return await workflow.execute_local_activity(
            activity, arg, start_to_close_timeout=_DB_TIMEOUT, retry_policy=_DB_RETRY
        )

    async def _settle_records(self) -> None:
        """Write everything pending and wait until every record is in PostgreSQL."""
        while self._pending or self._unflushed_step_runs or self._recording:
            self._flush_records()
            recording, self._recording = self._recording, []
            # Shielded: cancelling the execution while it waits here must not cancel records.
            await asyncio.gather(*(asyncio.shield(record) for record in recording))

    def _record_later(self, activity: Any, arg: Any) -> asyncio.Future[Any]:
        record = workflow.start_local_activity(
            activity, arg, start_to_close_timeout=_DB_TIMEOUT, retry_policy=_DB_RETRY
        )
        self._recording.append(record)
        return record

    def _bump(self) -> None:
        assert self._timeline is not None
        self._timeline.version += 1

    @workflow.query
    def timeline(self) -> Timeline:
        if self._timeline is None:
            raise ApplicationError("execution has not started yet")
        return self._timeline


def _view(d: DecisionInput) -> DecisionView:
    """The decision as the timeline shows it (and, with its keys, as it is recorded)."""
    return DecisionView(
        user_id=d.user_id,
        action=d.action,
        decided_at=workflow.now().isoformat(),
        source=d.source,
        reason=d.reason,
        confirmations=list(d.confirmations),
        typed_confirmation=d.typed_confirmation,
    )


def _approver(d: DecisionInput) -> Approver | None:
    """Who decides: the web layer sends the signed-in user's roles; a signal from a shell names a
    user, whose roles come from the known users unless the signal carries them."""
    if d.roles is not None:
        return Approver(d.user_id, frozenset(d.roles), frozenset(d.groups or ()))
    known = DEMO_USERS.get(d.user_id)
    if known is None:
        return None
    return Approver(known.name, frozenset(known.roles), frozenset(known.groups))
