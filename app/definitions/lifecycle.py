"""A workflow's lifecycle (active, paused, archived) and the one check every start passes."""

from __future__ import annotations

from app.db import workflow_states
from app.db.workflow_states import WorkflowStateRecord
from app.domain.statuses import WorkflowState


class WorkflowNotAccepting(RuntimeError):
    """A start refused because the workflow is paused or archived (HTTP 409); the message says
    which, by whom and why."""

    def __init__(self, record: WorkflowStateRecord) -> None:
        why = f": {record.reason}" if record.reason else ""
        by = f" by {record.changed_by}" if record.changed_by else ""
        super().__init__(
            f"workflow {record.workflow_id!r} is {record.state.value}{by}{why};"
            " it starts no new executions"
            + (" until it is resumed" if record.state is WorkflowState.PAUSED else "")
        )
        self.record = record


class WorkflowLifecycle:
    """Reads and sets workflows' states in PostgreSQL (shared by every web process)."""

    async def state(self, workflow_id: str) -> WorkflowStateRecord:
        return await workflow_states.read_state(workflow_id)

    async def states(self) -> dict[str, WorkflowStateRecord]:
        """States of the workflows ever paused or archived; a missing id is active."""
        return await workflow_states.read_states()

    async def check_accepting(self, workflow_id: str) -> None:
        """Raise WorkflowNotAccepting unless the workflow is active."""
        record = await self.state(workflow_id)
        if record.state is not WorkflowState.ACTIVE:
            raise WorkflowNotAccepting(record)

    async def set_state(
        self, workflow_id: str, state: WorkflowState, changed_by: str, reason: str = ""
    ) -> WorkflowStateRecord:
        """Pause, resume (ACTIVE) or archive. Archived is final: resuming it raises
        WorkflowNotAccepting."""
        current = await self.state(workflow_id)
        if current.state is WorkflowState.ARCHIVED and state is not WorkflowState.ARCHIVED:
            raise WorkflowNotAccepting(current)
        if current.state is state and not reason:
            return current  # asked again without a new reason: who, why and since when stand
        return await workflow_states.write_state(workflow_id, state, changed_by, reason)
