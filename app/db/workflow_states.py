"""Data access for workflow lifecycle states (paused, archived; no row means active)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.tables import WorkflowState as WorkflowStateRow
from app.domain.statuses import WorkflowState


@dataclass(frozen=True)
class WorkflowStateRecord:
    """A workflow's state with who set it, why and when (None for a workflow never changed)."""

    workflow_id: str
    state: WorkflowState
    changed_by: str = ""
    reason: str = ""
    changed_at: datetime | None = None


async def read_state(workflow_id: str) -> WorkflowStateRecord:
    """The workflow's state; active when no row says otherwise."""
    row = (
        await WorkflowStateRow.select()
        .where(WorkflowStateRow.workflow_id == workflow_id)
        .first()
        .run()
    )
    if row is None:
        return WorkflowStateRecord(workflow_id, WorkflowState.ACTIVE)
    return _record(row)


async def read_states() -> dict[str, WorkflowStateRecord]:
    """Every workflow whose state was ever set, by workflow id."""
    rows = await WorkflowStateRow.select().run()
    return {row["workflow_id"]: _record(row) for row in rows}


async def write_state(
    workflow_id: str, state: WorkflowState, changed_by: str, reason: str = ""
) -> WorkflowStateRecord:
    """Set the workflow's state (an upsert) and answer the new record."""
    now = datetime.now(UTC)
    await WorkflowStateRow.raw(
        "INSERT INTO workflow_states (workflow_id, state, changed_by, reason, changed_at)"
        " VALUES ({}, {}, {}, {}, {}) ON CONFLICT (workflow_id) DO UPDATE SET"
        " state = EXCLUDED.state, changed_by = EXCLUDED.changed_by,"
        " reason = EXCLUDED.reason, changed_at = EXCLUDED.changed_at",
        workflow_id, state.value, changed_by, reason, now,
    )  # fmt: skip
    return WorkflowStateRecord(workflow_id, state, changed_by, reason, now)


def _record(row: dict[str, object]) -> WorkflowStateRecord:
    changed_at = row["changed_at"]
    return WorkflowStateRecord(
        workflow_id=str(row["workflow_id"]),
        state=WorkflowState(str(row["state"])),
        changed_by=str(row["changed_by"]),
        reason=str(row["reason"]),
        changed_at=changed_at if isinstance(changed_at, datetime) else None,
    )
