"""Data access for execution cancellations: who cancelled an execution, why and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.tables import ExecutionCancellation


@dataclass(frozen=True)
class CancellationRecord:
    """A cancellation as asked: by whom (user id), the reason given and when (UTC)."""

    execution_id: str
    cancelled_by: str
    reason: str
    cancelled_at: datetime


async def record_cancellation(execution_id: str, cancelled_by: str, reason: str) -> None:
    """Record who asked to cancel and why; the first request's reason stands (a second is a
    no-op: Temporal cancels once)."""
    await ExecutionCancellation.raw(
        "INSERT INTO execution_cancellations (execution_id, cancelled_by, reason, cancelled_at)"
        " VALUES ({}, {}, {}, {}) ON CONFLICT (execution_id) DO NOTHING",
        execution_id,
        cancelled_by,
        reason,
        datetime.now(UTC),
    )


async def read_cancellation(execution_id: str) -> CancellationRecord | None:
    """The execution's recorded cancellation, or None when nobody cancelled it here."""
    row = (
        await ExecutionCancellation.select()
        .where(ExecutionCancellation.execution_id == execution_id)
        .first()
        .run()
    )
    return CancellationRecord(**row) if row else None
