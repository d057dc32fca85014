"""Activities between the workflow and PostgreSQL: step modes in, executions, step outcomes and
decisions out — every write idempotent, so a retried activity never writes twice."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import activity

from app.db.tables import ApprovalDecision, Execution, StepConfig, StepRun
from app.domain.modes import DeploymentMode
from app.steps.service import FINAL_STATUSES, evaluate_after_outcome
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


def _ts(value: str) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@activity.defn
async def record_progress(rec: ProgressRecord) -> None:
    """An execution's pending records in one transaction: start, step outcomes (every step with
    a final outcome then handed to the promotion rules), end."""
    async with Execution._meta.db.transaction():
        if rec.started is not None:
            await _insert_started(rec.started)
        await _record_step_runs(rec.step_runs)
        if rec.finished is not None:
            await _update_finished(rec.finished)


# The three below write what record_progress writes, one record per activity: executions started
# before it (workflow.patched "mode-read-with-action") still call them.
@activity.defn
async def record_execution_started(rec: ExecutionStarted) -> None:
    await _insert_started(rec)


async def _insert_started(rec: ExecutionStarted) -> None:
    await Execution.raw(
        "INSERT INTO executions (execution_id, workflow_id, workflow_name, definition_hash, "
        "status, input, started_by, started_at, ended_at, outcome) "
        "VALUES ({}, {}, {}, {}, 'running', {}::jsonb, {}, {}, NULL, '') "
        "ON CONFLICT (execution_id) DO NOTHING",
        rec.execution_id, rec.workflow_id, rec.workflow_name, rec.definition_hash,
        json.dumps(rec.input), rec.started_by, _ts(rec.started_at),
    )  # fmt: skip


@activity.defn
async def record_execution_finished(rec: ExecutionFinished) -> None:
    await _update_finished(rec)


async def _update_finished(rec: ExecutionFinished) -> None:
    await Execution.update(
        {Execution.status: rec.status, Execution.outcome: rec.outcome,
         Execution.ended_at: _ts(rec.ended_at)}
    ).where(Execution.execution_id == rec.execution_id)  # fmt: skip


@activity.defn
async def record_step_runs(batch: StepRunBatch) -> None:
    """Step outcomes in one transaction (executions started before `record_progress`)."""
    async with StepRun._meta.db.transaction():
        await _record_step_runs(batch.records)


async def _record_step_runs(records: list[StepRunRecord]) -> None:
    """Upsert each outcome, then hand every step with a final one to the promotion rules — in
    (workflow, step) order, so concurrent transactions lock step rows in the same order and
    never deadlock."""
    for rec in records:
        await _upsert_step_run(rec)
    finals = {(r.workflow_id, r.step_id) for r in records if r.status in FINAL_STATUSES}
    for workflow_id, step_id in sorted(finals):
        await evaluate_after_outcome(workflow_id, step_id)


async def _upsert_step_run(rec: StepRunRecord) -> None:
    # run_key is unique: a retried activity overwrites its own row instead of adding one.
    await StepRun.raw(
        "INSERT INTO step_runs (run_key, execution_id, workflow_id, step_id, mode, status, "
        "started_at, ended_at, duration_ms, summary, error) "
        "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) "
        "ON CONFLICT (run_key) DO UPDATE SET status = EXCLUDED.status, mode = EXCLUDED.mode, "
        "started_at = EXCLUDED.started_at, "
        "ended_at = EXCLUDED.ended_at, duration_ms = EXCLUDED.duration_ms, "
        "summary = EXCLUDED.summary, error = EXCLUDED.error "
        # Records may land out of order (they run beside later steps; retries after an outage):
        # a final status is never overwritten by the step's earlier "waiting_approval" record.
        "WHERE EXCLUDED.status <> 'waiting_approval' OR step_runs.status = 'waiting_approval'",
        f"{rec.execution_id}/{rec.step_id}", rec.execution_id, rec.workflow_id, rec.step_id,
        rec.mode, rec.status, _ts(rec.started_at), _ts(rec.ended_at), rec.duration_ms,
        rec.summary, rec.error,
    )  # fmt: skip


@activity.defn
async def resolve_step_mode(lookup: ModeLookup) -> str:
    """The mode, when the action activity could not read it (see `step_action`)."""
    return await read_step_mode(lookup)


async def read_step_mode(lookup: ModeLookup) -> str:
    """The step's current mode from step_configs (an admin's or a promotion's latest word);
    the definition's default when the step has no configuration yet."""
    row = (
        await StepConfig.select(StepConfig.mode)
        .where(
            (StepConfig.workflow_id == lookup.workflow_id) & (StepConfig.step_id == lookup.step_id)
        )
        .first()
    )
    mode = row["mode"] if row else lookup.default_mode
    if mode not in DeploymentMode.__members__.values():
        logger.warning("step %s has unknown mode %r; using its default", lookup, mode)
        return lookup.default_mode
    return str(mode)


@activity.defn
async def record_decision(rec: DecisionRecord) -> None:
    await ApprovalDecision.raw(
        "INSERT INTO decisions (decision_key, execution_id, workflow_id, step_id, user_id, "
        "action, reason, confirmations, typed_confirmation, source, accepted, refusal, "
        "decided_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}::jsonb, {}, {}, {}, {}, {}) "
        "ON CONFLICT (decision_key) DO NOTHING",
        rec.decision_key, rec.execution_id, rec.workflow_id, rec.step_id, rec.user_id,
        rec.action, rec.reason, json.dumps(rec.confirmations), rec.typed_confirmation,
        rec.source, rec.accepted, rec.refusal, _ts(rec.decided_at),
    )  # fmt: skip


RECORDING_ACTIVITIES: list[Callable[..., Any]] = [
    record_progress,
    resolve_step_mode,
    record_decision,
    record_execution_started,
    record_execution_finished,
    record_step_runs,
]
