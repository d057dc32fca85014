"""The approvals inbox: steps waiting for a person, read from the recorded step runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from app.db.tables import StepRun
from app.domain.definitions import WorkflowDefinition
from app.domain.identity import Role, User
from app.domain.modes import ImpactLevel

# The engine records a step run as `waiting_approval` when the step starts waiting and
# overwrites the row with its final status later; a row of a finished execution that still
# says waiting (cancelled while waiting) is not waiting for anybody.
_WAITING_SQL = """
SELECT s.execution_id, s.workflow_id, s.step_id, s.started_at,
       e.workflow_name, e.started_by
FROM step_runs s JOIN executions e ON e.execution_id = s.execution_id
WHERE s.status = 'waiting_approval' AND e.status = 'running'
ORDER BY s.started_at NULLS LAST, s.id
"""


@dataclass(frozen=True)
class WaitingApproval:
    """One step waiting for approval, with what the inbox shows and who may decide it."""

    execution_id: str
    workflow_id: str
    workflow_name: str
    step_id: str
    step_name: str
    impact: str
    approvers_group: str
    started_by: str
    waiting_since: datetime | None

    @property
    def four_eyes(self) -> bool:
        # Critical steps may not be approved by whoever started the execution (SPEC §2).
        return self.impact == ImpactLevel.CRITICAL.value

    def may_decide(self, user: User) -> bool:
        in_group = bool(self.approvers_group) and self.approvers_group in user.groups
        return user.has(Role.APPROVER) or in_group

    def may_approve(self, user: User) -> bool:
        return self.may_decide(user) and not (self.four_eyes and user.name == self.started_by)


async def waiting_approvals(
    definitions: Mapping[str, WorkflowDefinition],
) -> list[WaitingApproval]:
    """Every step waiting for approval in a running execution, oldest first."""
    rows = await StepRun.raw(_WAITING_SQL)
    items = []
    for row in rows:
        definition = definitions.get(row["workflow_id"])
        step = None
        if definition is not None:
            step = next((s for s in definition.steps if s.id == row["step_id"]), None)
        items.append(
            WaitingApproval(
                execution_id=row["execution_id"],
                workflow_id=row["workflow_id"],
                workflow_name=row["workflow_name"],
                step_id=row["step_id"],
                step_name=step.name if step else row["step_id"],
                impact=step.impact if step else "",
                approvers_group=step.approvers_group if step else "",
                started_by=row["started_by"],
                waiting_since=row["started_at"],
            )
        )
    return items


def for_user(items: Iterable[WaitingApproval], user: User) -> list[WaitingApproval]:
    """The part of the inbox `user` may decide."""
    return [item for item in items if item.may_decide(user)]
