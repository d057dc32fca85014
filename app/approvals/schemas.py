"""What the approvals API takes and answers, and how a refused decision reads over HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain.approvals import RefusalKind

REFUSAL_STATUS: dict[RefusalKind, int] = {
    RefusalKind.NOT_WAITING: 409,  # stale or duplicate: the step is no longer waiting
    RefusalKind.FORBIDDEN: 403,  # not an approver, or four eyes
    RefusalKind.INCOMPLETE: 422,  # confirmations, phrase or reason missing
    RefusalKind.UNKNOWN_STEP: 404,
    RefusalKind.TOO_LATE: 409,  # reached the workflow past its window: not applied
}


@dataclass
class ApproveRequest:
    """Every confirmation label the step asks for, and its typed phrase for critical steps."""

    confirmations: list[str] = field(default_factory=list)
    typed_confirmation: str = ""
    reason: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    """The step's approver inputs (`approval_inputs:`), e.g. {"credit_limit": 3000}."""


@dataclass
class RejectRequest:
    reason: str


@dataclass
class DecisionResponse:
    """The step after an accepted decision: `approved` (its action runs next), `rejected`, or
    still `waiting_approval` while it needs more approvals than it has."""

    execution_id: str
    step_id: str
    step_status: str
    approvals: int
    required_approvals: int
