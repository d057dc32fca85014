"""Lists of executions for the overview, the filtered executions page and the JSON API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.db import executions as records
from app.domain.statuses import ExecutionStatus

EXECUTION_STATUSES = tuple(ExecutionStatus)


@dataclass(frozen=True)
class ExecutionFilter:
    """What the executions page shows; empty fields do not filter."""

    status: str = ""
    workflow_id: str = ""
    waiting: bool = False

    @property
    def active(self) -> bool:
        return bool(self.status or self.workflow_id or self.waiting)


@dataclass
class ExecutionRow:
    """One execution as the lists show it: its record, and whether a step waits for approval."""

    id: int
    execution_id: str
    workflow_id: str
    workflow_name: str
    definition_hash: str
    status: str
    input: str
    """The input the execution started with, as JSON text (as recorded)."""
    started_by: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str
    waiting: bool

    @classmethod
    def of(cls, row: dict[str, Any], waiting: bool) -> ExecutionRow:
        return cls(**row, waiting=waiting)


async def list_executions(
    filters: ExecutionFilter = ExecutionFilter(), limit: int = 100
) -> list[ExecutionRow]:
    """Newest first; each row also says whether one of its steps waits for approval."""
    running_among = None
    if filters.waiting:
        running_among = await records.executions_with_a_waiting_step()
        if not running_among:
            return []
    rows = await records.latest_executions(
        limit, status=filters.status, workflow_id=filters.workflow_id, running_among=running_among
    )
    waiting = await records.executions_with_a_waiting_step([row["execution_id"] for row in rows])
    return [
        ExecutionRow.of(
            row, row["status"] == ExecutionStatus.RUNNING and row["execution_id"] in waiting
        )
        for row in rows
    ]


async def recent_outcomes(limit: int = 10) -> list[ExecutionRow]:
    """Finished executions, the most recently ended first."""
    return [ExecutionRow.of(row, waiting=False) for row in await records.latest_outcomes(limit)]
