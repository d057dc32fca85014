"""Cancelling an execution with a reason: Temporal's cancel request, and who asked and why."""

from __future__ import annotations

from app.db.cancellations import CancellationRecord, read_cancellation, record_cancellation
from app.domain.identity import User
from app.domain.text import is_blank, normalised
from app.executions.service import ExecutionService

REASON_MAX = 500  # characters; a reason is a sentence, not a report

__all__ = ["CancellationRecord", "MissingReason", "cancel_with_reason", "read_cancellation"]


class MissingReason(ValueError):
    """The cancel form came without a reason (or one of only invisible characters)."""


async def cancel_with_reason(
    executions: ExecutionService, execution_id: str, user: User, reason: str
) -> None:
    """Ask Temporal to cancel the execution, then record `user`'s name and the reason (normalised,
    at most REASON_MAX characters). Raises MissingReason for a blank reason (nothing is sent),
    UnknownExecution when Temporal knows no such execution, ServiceUnavailable when it is down."""
    if is_blank(reason):
        raise MissingReason("reason: say why you cancel this execution")
    await executions.cancel(execution_id)
    await record_cancellation(execution_id, user.name, normalised(reason)[:REASON_MAX])
