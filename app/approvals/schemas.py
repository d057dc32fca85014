"""What the approvals API takes and answers, and how a refused decision reads over HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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
    reason: str = ""
    """Why (required: a missing or blank reason answers 422 "a rejection needs a reason")."""


@dataclass
class DecisionResponse:
    """The step after an accepted decision: `approved` (its action runs next), `rejected`, or
    still `waiting_approval` while it needs more approvals than it has."""

    execution_id: str
    step_id: str
    step_status: str
    approvals: int
    required_approvals: int


@dataclass
class InboxItem:
    """One step waiting for the caller's approval. Times are UTC (ISO 8601);
    `expires_at` = `waiting_since` + the step's approval timeout; the inbox is sorted by it,
    soonest first. `bulk_approvable`: neither critical nor asking for a typed phrase."""

    workflow_id: str
    workflow_name: str
    execution_id: str
    key_input: str
    step_id: str
    step_name: str
    impact: str
    key_label: str
    summary: str
    started_by: str
    waiting_since: datetime | None
    waiting_seconds: float | None
    expires_at: datetime | None
    expires_in_seconds: float | None
    four_eyes: bool
    may_approve: bool
    bulk_approvable: bool
    timeline_url: str
    required_approvals: int = 1
    approved_by: list[str] = field(default_factory=list)


@dataclass
class BulkApproveRequest:
    """Approve one step of several executions of one workflow; `confirmations`: the step's
    confirmation labels, ticked once for all (each execution is sent those it asks for)."""

    workflow_id: str
    step_id: str
    execution_ids: list[str]
    confirmations: list[str] = field(default_factory=list)


@dataclass
class BulkItemResultSchema:
    """One execution's outcome: `result` is "approved" or "refused"; `message` reads
    "approved" or "refused: <reason>"."""

    execution_id: str
    result: str
    message: str
    reason: str
    step_status: str
    key_input: str
    summary: str


@dataclass
class BulkApproveResponse:
    workflow_id: str
    step_id: str
    approved: int
    refused: int
    results: list[BulkItemResultSchema]
