"""What the engine writes and reads in PostgreSQL: executions, step runs, decisions, a step's
mode, a step's injected fault rate — and the two reads of `executions` its services make.

Every write is idempotent (keyed upserts), so a retried activity never writes twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from app.db.inbox_channel import notify_execution_sql, notify_finished_sql, notify_sql
from app.db.tables import ApprovalDecision, Execution, FaultInjection, StepConfig, StepRun
from app.domain.statuses import ExecutionStatus, StepStatus

# On the records after a step's wait (running, then final): from its waiting start to the last
# accepted decision (the approval completing the count, or the rejection), recorded before.
# A wait that ended with no accepted decision (cancelled, expired) has none: NULL, not 0 — the
# HAVING leaves no row (greatest() alone would turn the missing time into 0).
_DECISION_SECONDS = (
    "CASE WHEN EXCLUDED.status <> {} AND step_runs.waiting_since IS NOT NULL THEN (SELECT "
    "greatest(0, extract(epoch FROM max(d.decided_at)) - extract(epoch FROM step_runs.waiting_since)) "
    "FROM decisions d WHERE d.execution_id = step_runs.execution_id "
    "AND d.step_id = step_runs.step_id AND d.accepted HAVING count(*) > 0) "
    "ELSE step_runs.decision_seconds END"
)


# How far a step run's row has come: 0 waiting, 1 running (its approved action started), 2 a
# final status. `{}`: the row (step_runs or EXCLUDED).
_STAGE = (
    f"(CASE {{}}.status WHEN '{StepStatus.WAITING_APPROVAL.value}' THEN 0"
    f" WHEN '{StepStatus.RUNNING.value}' THEN 1 ELSE 2 END)"
)


class Records:
    """The engine's data access (activities and the execution/decision services get one)."""

    def transaction(self) -> AbstractAsyncContextManager[Any]:
        """One transaction; every query awaited inside it (the promotion hook's too) joins it."""
        transaction: AbstractAsyncContextManager[Any] = Execution._meta.db.transaction()
        return transaction

    async def insert_execution(
        self,
        execution_id: str,
        *,
        workflow_id: str,
        workflow_name: str,
        definition_hash: str,
        input: dict[str, Any],
        started_by: str,
        started_at: datetime | None,
    ) -> None:
        """The execution's row, as it starts (a second insert of the same id does nothing)."""
        await Execution.raw(
            "INSERT INTO executions (execution_id, workflow_id, workflow_name, definition_hash, "
            "status, input, started_by, started_at, ended_at, outcome) "
            "VALUES ({}, {}, {}, {}, {}, {}::jsonb, {}, {}, NULL, '') "
            "ON CONFLICT (execution_id) DO NOTHING",
            execution_id, workflow_id, workflow_name, definition_hash, ExecutionStatus.RUNNING.value,
            json.dumps(input), started_by, started_at,
        )  # fmt: skip
        # Open executions lists on every web process read again when this transaction commits.
        await Execution.raw(notify_execution_sql(), execution_id)

    async def finish_execution(
        self, execution_id: str, *, status: str, outcome: str, ended_at: datetime | None
    ) -> None:
        await Execution.update(
            {Execution.status: status, Execution.outcome: outcome, Execution.ended_at: ended_at}
        ).where(Execution.execution_id == execution_id)
        await Execution.raw(notify_finished_sql(), execution_id, execution_id, execution_id)

    async def upsert_step_run(
        self,
        run_key: str,
        *,
        execution_id: str,
        workflow_id: str,
        step_id: str,
        mode: str,
        status: str,
        started_at: datetime | None,
        ended_at: datetime | None,
        duration_ms: int | None,
        summary: str,
        error: str,
    ) -> None:
        """A step run's row; `run_key` is unique, so a retried activity overwrites its own row."""
        await StepRun.raw(
            "INSERT INTO step_runs (run_key, execution_id, workflow_id, step_id, mode, status, "
            "started_at, ended_at, duration_ms, summary, error, waiting_since) "
            "VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, "
            "CASE WHEN {}::boolean THEN now() END) "
            "ON CONFLICT (run_key) DO UPDATE SET status = EXCLUDED.status, mode = EXCLUDED.mode, "
            "started_at = EXCLUDED.started_at, "
            "waiting_since = COALESCE(step_runs.waiting_since, EXCLUDED.waiting_since), "
            f"decision_seconds = {_DECISION_SECONDS}, "
            "ended_at = EXCLUDED.ended_at, duration_ms = EXCLUDED.duration_ms, "
            "summary = EXCLUDED.summary, error = EXCLUDED.error "
            # Records may land out of order (they run beside later steps; retries after an
            # outage): a step's row never goes back — waiting, then running (approved), then
            # final — so an earlier record landing late changes nothing.
            f"WHERE {_STAGE.format('EXCLUDED')} >= {_STAGE.format('step_runs')}",
            run_key, execution_id, workflow_id, step_id, mode, status, started_at, ended_at,
            duration_ms, summary, error, status == StepStatus.WAITING_APPROVAL.value,
            StepStatus.WAITING_APPROVAL.value,
        )  # fmt: skip
        # Open executions lists and inboxes on every web process read again at the commit.
        await StepRun.raw(notify_sql(), execution_id, run_key)

    async def insert_decision(
        self,
        decision_key: str,
        *,
        execution_id: str,
        workflow_id: str,
        step_id: str,
        user_id: str,
        action: str,
        reason: str,
        confirmations: Sequence[str],
        typed_confirmation: str,
        source: str,
        accepted: bool,
        refusal: str,
        decided_at: datetime | None,
        inputs: Mapping[str, Any] | None = None,
    ) -> None:
        """A decision's row (accepted, or an ignored signal with its refusal), once per key;
        `inputs`: the approver's inputs (the step's approval_inputs)."""
        await ApprovalDecision.raw(
            "INSERT INTO decisions (decision_key, execution_id, workflow_id, step_id, user_id, "
            "action, reason, confirmations, typed_confirmation, source, accepted, refusal, "
            "decided_at, inputs) VALUES ({}, {}, {}, {}, {}, {}, {}, {}::jsonb, {}, {}, {}, {}, "
            "{}, {}::jsonb) ON CONFLICT (decision_key) DO NOTHING",
            decision_key, execution_id, workflow_id, step_id, user_id, action, reason,
            json.dumps(list(confirmations)), typed_confirmation, source, accepted, refusal,
            decided_at, json.dumps(dict(inputs or {}), default=str),
        )  # fmt: skip

    async def step_mode(self, workflow_id: str, step_id: str) -> str | None:
        """The mode saved in step_configs for the step (None when it has no configuration)."""
        row = (
            await StepConfig.select(StepConfig.mode)
            .where((StepConfig.workflow_id == workflow_id) & (StepConfig.step_id == step_id))
            .first()
        )
        return None if row is None else str(row["mode"])

    async def failure_rate(self, workflow_id: str, step_id: str) -> float | None:
        """The step's injected fault rate (None when no fault is injected)."""
        row = (
            await FaultInjection.select(FaultInjection.failure_rate)
            .where(
                (FaultInjection.workflow_id == workflow_id) & (FaultInjection.step_id == step_id)
            )
            .first()
        )
        return None if row is None else float(row["failure_rate"])

    async def execution_recorded(self, execution_id: str) -> bool:
        """Whether the execution's row exists (it has started, and may have finished)."""
        return bool(await Execution.exists().where(Execution.execution_id == execution_id))

    async def execution_outcome(self, execution_id: str) -> str:
        """The execution's recorded outcome in words ("" when none is recorded yet)."""
        row = (
            await Execution.select(Execution.outcome)
            .where(Execution.execution_id == execution_id)
            .first()
        )
        return "" if row is None else str(row["outcome"])

    async def recent_executions(self, limit: int, workflow_id: str = "") -> list[dict[str, Any]]:
        """The newest executions' rows, of one workflow when `workflow_id` is given."""
        query = Execution.select().order_by(Execution.started_at, ascending=False).limit(limit)
        if workflow_id:
            query = query.where(Execution.workflow_id == workflow_id)
        return list(await query)

    async def execution_with_steps(
        self, execution_id: str
    ) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The execution's row and its step_runs rows, or None when it has no row."""
        row = await Execution.select().where(Execution.execution_id == execution_id).first()
        if row is None:
            return None
        steps = await StepRun.select().where(StepRun.execution_id == execution_id)
        return row, list(steps)
