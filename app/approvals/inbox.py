"""The approvals inbox: steps waiting for a person, read from the recorded step runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from app.db.executions import waiting_steps
from app.domain.approvals import Approver, may_approve, may_decide
from app.domain.definitions import WorkflowDefinition
from app.domain.identity import User
from app.domain.modes import ImpactLevel


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
        return may_decide(Approver.of(user), self.approvers_group)

    def may_approve(self, user: User) -> bool:
        return may_approve(Approver.of(user), self.approvers_group, self.four_eyes, self.started_by)


async def waiting_approvals(
    definitions: Mapping[str, WorkflowDefinition],
) -> list[WaitingApproval]:
    """Every step waiting for approval in a running execution, oldest first."""
    items = []
    for row in await waiting_steps():
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
