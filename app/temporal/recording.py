"""Activities between the workflow and PostgreSQL: step modes in; executions, step outcomes and
decisions out — every write idempotent, so a retried activity never writes twice."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from temporalio import activity

from app.db.records import Records
from app.domain.modes import DeploymentMode
from app.domain.statuses import FINAL_STEP_STATUSES
from app.temporal.contracts import (
    DecisionRecord,
    ExecutionFinished,
    ExecutionStarted,
    ModeLookup,
    ProgressRecord,
    StepRunBatch,
    StepRunRecord,
)

logger = logging.getLogger(__name__)

# The promotion hook: called as `await on_outcome(workflow_id, step_id)` for every step with a
# final outcome, inside the transaction that records it (the worker passes the steps' rules).
OutcomeHook = Callable[[str, str], Awaitable[object]]


def _ts(value: str) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def current_mode(records: Records, lookup: ModeLookup) -> str:
    """The step's current mode from step_configs (an admin's or a promotion's latest word); the
    definition's default when the step has no configuration yet, or an unknown mode."""
    mode = await records.step_mode(lookup.workflow_id, lookup.step_id)
    if mode is None:
        return lookup.default_mode
    if mode not in DeploymentMode.__members__.values():
        logger.warning("step %s has unknown mode %r; using its default", lookup, mode)
        return lookup.default_mode
    return mode


class RecordingActivities:
    """The record activities every execution uses, on the engine's data access and with the
    promotion hook."""

    def __init__(self, records: Records, on_outcome: OutcomeHook) -> None:
        self.records = records
        self.on_outcome = on_outcome

    @activity.defn
    async def record_progress(self, rec: ProgressRecord) -> None:
        """An execution's pending records in one transaction: start, step outcomes (every step
        with a final outcome then handed to the promotion hook), end."""
        async with self.records.transaction():
            if rec.started is not None:
                await self.write_started(rec.started)
            await self.write_step_runs(rec.step_runs)
            if rec.finished is not None:
                await self.write_finished(rec.finished)

    @activity.defn
    async def resolve_step_mode(self, lookup: ModeLookup) -> str:
        """The mode, when the action activity could not read it (see `step_action`)."""
        return await current_mode(self.records, lookup)

    @activity.defn
    async def execution_outcome(self, execution_id: str) -> str:
        """A finished execution's recorded outcome (a `run:` step reads its child's)."""
        return await self.records.execution_outcome(execution_id)

    @activity.defn
    async def record_decision(self, rec: DecisionRecord) -> None:
        await self.records.insert_decision(
            rec.decision_key, execution_id=rec.execution_id, workflow_id=rec.workflow_id,
            step_id=rec.step_id, user_id=rec.user_id, action=rec.action, reason=rec.reason,
            confirmations=rec.confirmations, typed_confirmation=rec.typed_confirmation,
            source=rec.source, accepted=rec.accepted, refusal=rec.refusal,
            decided_at=_ts(rec.decided_at), inputs=rec.inputs,
        )  # fmt: skip

    async def write_started(self, rec: ExecutionStarted) -> None:
        await self.records.insert_execution(
            rec.execution_id, workflow_id=rec.workflow_id, workflow_name=rec.workflow_name,
            definition_hash=rec.definition_hash, input=rec.input, started_by=rec.started_by,
            started_at=_ts(rec.started_at),
        )  # fmt: skip

    async def write_finished(self, rec: ExecutionFinished) -> None:
        await self.records.finish_execution(
            rec.execution_id, status=rec.status, outcome=rec.outcome, ended_at=_ts(rec.ended_at)
        )

    async def write_step_runs(self, runs: Sequence[StepRunRecord]) -> None:
        """Upsert each outcome, then hand every step with a final one to the promotion hook —
        in (workflow, step) order, so concurrent transactions lock step rows in the same order
        and never deadlock."""
        for run in runs:
            await self.records.upsert_step_run(
                f"{run.execution_id}/{run.step_id}", execution_id=run.execution_id,
                workflow_id=run.workflow_id, step_id=run.step_id, mode=run.mode,
                status=run.status, started_at=_ts(run.started_at), ended_at=_ts(run.ended_at),
                duration_ms=run.duration_ms, summary=run.summary, error=run.error,
            )  # fmt: skip
        finals = {(r.workflow_id, r.step_id) for r in runs if r.status in FINAL_STEP_STATUSES}
        for workflow_id, step_id in sorted(finals):
            await self.on_outcome(workflow_id, step_id)


class LegacyRecordingActivities:
    """The three record activities of executions started before the workflow patch
    ACTION_READS_MODE_ONE_RECORD_PATH: they write what `record_progress` writes, one record
    per activity. New executions never call them; the worker registers them only so that the
    older executions finish. Remove them with the patch."""

    def __init__(self, recording: RecordingActivities) -> None:
        self.recording = recording

    @activity.defn
    async def record_execution_started(self, rec: ExecutionStarted) -> None:
        await self.recording.write_started(rec)

    @activity.defn
    async def record_execution_finished(self, rec: ExecutionFinished) -> None:
        await self.recording.write_finished(rec)

    @activity.defn
    async def record_step_runs(self, batch: StepRunBatch) -> None:
        """Step outcomes in one transaction."""
        async with self.recording.records.transaction():
            await self.recording.write_step_runs(batch.records)
