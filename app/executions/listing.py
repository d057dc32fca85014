"""Lists of executions for the overview and the filtered executions page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.db.tables import Execution, StepRun

EXECUTION_STATUSES = ("running", "completed", "failed", "rejected", "expired", "cancelled")


@dataclass(frozen=True)
class ExecutionFilter:
    """What the executions page shows; empty fields do not filter."""

    status: str = ""
    workflow_id: str = ""
    waiting: bool = False

    @property
    def active(self) -> bool:
        return bool(self.status or self.workflow_id or self.waiting)


async def _waiting_execution_ids(among: list[str] | None = None) -> set[str]:
    query = StepRun.select(StepRun.execution_id).where(StepRun.status == "waiting_approval")
    if among is not None:
        if not among:
            return set()
        query = query.where(StepRun.execution_id.is_in(among))
    return {row["execution_id"] for row in await query}


async def list_executions(
    filters: ExecutionFilter = ExecutionFilter(), limit: int = 100
) -> list[dict[str, Any]]:
    """Newest first; each row also says whether one of its steps waits for approval."""
    query = Execution.select().order_by(Execution.started_at, ascending=False).limit(limit)
    if filters.status:
        query = query.where(Execution.status == filters.status)
    if filters.workflow_id:
        query = query.where(Execution.workflow_id == filters.workflow_id)
    if filters.waiting:
        waiting_ids = await _waiting_execution_ids()
        if not waiting_ids:
            return []
        query = query.where(Execution.execution_id.is_in(sorted(waiting_ids)))
        query = query.where(Execution.status == "running")
    rows = list(await query)
    waiting = await _waiting_execution_ids([row["execution_id"] for row in rows])
    for row in rows:
        row["waiting"] = row["status"] == "running" and row["execution_id"] in waiting
    return rows


async def recent_outcomes(limit: int = 10) -> list[dict[str, Any]]:
    """Finished executions, the most recently ended first."""
    query = (
        Execution.select()
        .where(Execution.status != "running")
        .order_by(Execution.ended_at, ascending=False)
        .limit(limit)
    )
    rows = list(await query)
    for row in rows:
        row["waiting"] = False
    return rows
