"""The statuses a step run and an execution go through (SPEC §3), as enums compared everywhere.

Both are `StrEnum`s: their values are the strings stored in PostgreSQL, carried in workflow
payloads and shown in the JSON API, so a member compares equal to its recorded string.
"""

from __future__ import annotations

from enum import StrEnum


class StepStatus(StrEnum):
    """Where one step run of an execution stands."""

    PENDING = "pending"
    RUNNING = "running"
    PREPARING = "preparing"  # building the operation preview before it waits
    WAITING_APPROVAL = "waiting_approval"
    APPROVED = "approved"  # decided; the action is about to run
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    # A safety policy (`policy:`, on_breach deny) refused the step's rendered params: it never ran.
    POLICY_DENIED = "policy_denied"

    @property
    def final(self) -> bool:
        """Whether the step run has ended (its record no longer changes)."""
        return self in FINAL_STEP_STATUSES

    @property
    def label(self) -> str:
        """The status in words, as pages show it ("waiting approval")."""
        return self.value.replace("_", " ")


# The statuses a step run ends in (promotion counts among these); cancelled and policy_denied end
# a run too but say nothing about the step's reliability, so they are not among them.
FINAL_STEP_STATUSES = frozenset(
    {
        StepStatus.COMPLETED,
        StepStatus.FAILED,
        StepStatus.REJECTED,
        StepStatus.EXPIRED,
        StepStatus.SKIPPED,
    }
)
# Step statuses in which the workflow moves on by itself (no person is awaited).
ACTIVE_STEP_STATUSES = frozenset({StepStatus.RUNNING, StepStatus.PREPARING, StepStatus.APPROVED})


class ExecutionStatus(StrEnum):
    """Where an execution stands; every status but RUNNING is final."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    POLICY_DENIED = "policy_denied"  # a step's params breached a `policy:` rule with deny

    @property
    def finished(self) -> bool:
        return self is not ExecutionStatus.RUNNING


class WorkflowState(StrEnum):
    """A workflow's lifecycle: only an active workflow starts executions. Paused: its schedules
    are paused, its webhooks answer 409, the start form says why. Archived: as paused, for good
    (its executions and records stay)."""

    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"
