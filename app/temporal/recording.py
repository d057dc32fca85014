"""Activities that write executions and step outcomes to PostgreSQL, idempotently."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from temporalio import activity

from app.db.tables import Execution, StepRun
from app.temporal.contracts import ExecutionFinished, ExecutionStarted, StepRunRecord


def _ts(value: str) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@activity.defn
async def record_execution_started(rec: ExecutionStarted) -> None:
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
    await Execution.update(
        {Execution.status: rec.status, Execution.outcome: rec.outcome,
         Execution.ended_at: _ts(rec.ended_at)}
    ).where(Execution.execution_id == rec.execution_id)  # fmt: skip


@activity.defn
async def record_step_run(rec: StepRunRecord) -> None:
    # run_key is unique: a retried activity overwrites its own row instead of adding one.
    await StepRun.raw(
        "INSERT INTO step_runs (run_key, execution_id, workflow_id, step_id, mode, status, "
        "started_at, ended_at, duration_ms, summary, error) "
        "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) "
        "ON CONFLICT (run_key) DO UPDATE SET status = EXCLUDED.status, mode = EXCLUDED.mode, "
        "ended_at = EXCLUDED.ended_at, duration_ms = EXCLUDED.duration_ms, "
        "summary = EXCLUDED.summary, error = EXCLUDED.error",
        f"{rec.execution_id}/{rec.step_id}", rec.execution_id, rec.workflow_id, rec.step_id,
        rec.mode, rec.status, _ts(rec.started_at), _ts(rec.ended_at), rec.duration_ms,
        rec.summary, rec.error,
    )  # fmt: skip


RECORDING_ACTIVITIES: list[Callable[..., Any]] = [
    record_execution_started,
    record_execution_finished,
    record_step_run,
]
