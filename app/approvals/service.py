"""Deciding a waiting step: a decision goes to the workflow as its `decide` update, whose
validator (the domain's one rule set) accepts it or says why not."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from app.db.records import Records
from app.domain.approval_inputs import check_inputs
from app.domain.approvals import DEFAULT_DECISION_WINDOW, Decision, DecisionAction, RefusalKind
from app.domain.availability import ServiceUnavailable
from app.domain.statuses import StepStatus
from app.executions.service import EngineSilent, UnknownExecution, temporal_reachable, within
from app.temporal.contracts import DecisionOutcome, Timeline
from app.temporal.workflows import ExecutionWorkflow

log = structlog.stdlib.get_logger("stepladder.approvals")


class DecisionRefused(Exception):
    """The workflow refused a decision; `kind` says why (maps to 409, 403, 422 or 404)."""

    def __init__(self, kind: RefusalKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def check_approver_inputs(timeline: Timeline, decision: Decision) -> None:
    """The web's own check of an approval's inputs against what the waiting step asks (the
    workflow's validator checks them again): raises DecisionRefused (incomplete, 422) naming
    each field that is wrong. Nothing to check for a rejection or a step not (yet) waiting."""
    step = next((s for s in timeline.steps if s.id == decision.step_id), None)
    if decision.action != DecisionAction.APPROVED or step is None or step.approval is None:
        return
    _, errors = check_inputs(step.approval.inputs, decision.inputs)
    if errors:
        raise DecisionRefused(RefusalKind.INCOMPLETE, "; ".join(errors.values()))


# What the person sees when the workflow did not confirm a decision in time.
NOT_CONFIRMED = "not applied: the engine is not answering"

# The server aborts an update it could not hand to the workflow because the workflow task
# carrying it failed (e.g. timed out on a loaded worker): the update was never accepted, so
# sending it again is safe — and a duplicate would be refused by the validator anyway.
# (temporalio/temporal#7296: `WorkflowNotReady`, "unexpected workflow task failure".)
_NOT_DELIVERED_ATTEMPTS = 3


def _not_delivered(exc: RPCError) -> bool:
    return (
        exc.status == RPCStatusCode.FAILED_PRECONDITION
        and b"WorkflowNotReady" in exc.raw_grpc_status
    )


class DecisionService:
    """Decisions on waiting steps, sent to the executions' workflows. `timeout`: how long a
    decision waits for the workflow's answer (seconds); `window`: how long after the click it may
    still take effect (seconds; the workflow refuses it later); `on_decided(execution_id,
    step_id)`: called (not awaited) when an accepted decision ended the step's wait — every
    decision (form, bulk, JSON API) passes here, so the inboxes of every web process hear of it
    (app/live/decided.py)."""

    def __init__(
        self,
        client: Client,
        records: Records | None = None,
        *,
        timeout: float = 10.0,
        window: float = DEFAULT_DECISION_WINDOW,
        on_decided: Callable[[str, str], None] | None = None,
    ) -> None:
        self.client = client
        self.records = records or Records()
        self.timeout = timeout
        self.window = window
        self.on_decided = on_decided

    async def decide(self, execution_id: str, decision: Decision) -> DecisionOutcome:
        """Send `decision` as the workflow's `decide` update. Its validator's refusal (stale,
        duplicate, unauthorised or incomplete) comes back as DecisionRefused; a decision on a
        finished execution as NOT_WAITING, on none at all as UnknownExecution. Unanswered
        within `timeout`: ServiceUnavailable (Temporal down, or no worker: NOT_CONFIRMED). Each
        decision and each refusal is logged (`decision.made`, `decision.refused`)."""
        structlog.contextvars.bind_contextvars(
            execution_id=execution_id, step_id=decision.step_id, user=decision.user_id
        )
        try:
            outcome = await self._send(execution_id, decision)
        except DecisionRefused as refused:
            log.warning(
                "decision.refused", action=decision.action, kind=str(refused.kind),
                reason=refused.message, source=decision.source,
            )  # fmt: skip
            raise
        log.info("decision.made", action=decision.action, source=decision.source)
        if self.on_decided is not None and outcome.step_status != StepStatus.WAITING_APPROVAL:
            self.on_decided(execution_id, outcome.step_id)
        return outcome

    async def _send(self, execution_id: str, decision: Decision) -> DecisionOutcome:
        handle = self.client.get_workflow_handle(execution_id)
        if not decision.decided_at:  # made now: it counts for `window` from now on
            now = datetime.now(UTC).isoformat()
            decision = replace(decision, decided_at=now, max_age_seconds=self.window)
        try:
            return await self._update(handle, decision)
        except EngineSilent:
            raise ServiceUnavailable("temporal", NOT_CONFIRMED) from None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            await temporal_reachable(self.client)  # Temporal down says so; else no worker
            raise ServiceUnavailable("temporal", NOT_CONFIRMED) from None
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            kinds = RefusalKind.__members__.values()
            if isinstance(cause, ApplicationError) and cause.type and cause.type in kinds:
                raise DecisionRefused(RefusalKind(cause.type), cause.message) from None
            raise
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        # Either no such execution, or it has finished: tell them apart for the message.
        if await self.records.execution_recorded(execution_id):
            raise DecisionRefused(
                RefusalKind.NOT_WAITING,
                f"execution {execution_id!r} has finished; nothing is waiting",
            )
        raise UnknownExecution(execution_id)

    async def _update(
        self, handle: WorkflowHandle[Any, Any], decision: Decision
    ) -> DecisionOutcome:
        for attempt in range(1, _NOT_DELIVERED_ATTEMPTS + 1):
            update = handle.execute_update(
                ExecutionWorkflow.decide, decision, rpc_timeout=timedelta(seconds=self.timeout)
            )
            try:
                outcome: DecisionOutcome = await within(self.client, self.timeout, update)
                return outcome
            except RPCError as exc:
                if not _not_delivered(exc) or attempt == _NOT_DELIVERED_ATTEMPTS:
                    raise
                await asyncio.sleep(0.1 * attempt)
        raise AssertionError("unreachable")
