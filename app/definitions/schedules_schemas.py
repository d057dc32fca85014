"""What the schedules and workflow lifecycle API answers (and the workflow page shows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.domain.statuses import WorkflowState


@dataclass
class ScheduleRun:
    """One run a Schedule started: the execution and when."""

    execution_id: str
    scheduled_at: datetime
    started_at: datetime
    url: str
    """The execution's timeline page (under PATH_PREFIX when set)."""


@dataclass
class ScheduleView:
    """A `schedule` trigger with its Temporal Schedule's state."""

    trigger_id: str
    schedule_id: str
    """The Temporal Schedule id: `stepladder:<workflow_id>:<trigger_id>`."""
    spec: str
    """The spec in words, e.g. "every 2 s (UTC)" or "cron 0 2 * * * (Europe/Paris)"."""
    cron: list[str]
    interval_seconds: float
    time_zone: str
    overlap: str
    catchup_window_seconds: float
    input: dict[str, Any]
    state: str
    """`running`, `paused`, or `missing` (not in Temporal yet: the sync has not run)."""
    note: str = ""
    """Why it is paused (e.g. "paused by workflow pause")."""
    next_runs: list[datetime] = field(default_factory=list)
    """The next start times, in the schedule's time zone."""
    recent_runs: list[ScheduleRun] = field(default_factory=list)
    """The latest runs, newest first."""


@dataclass
class ScheduleActed:
    """What a pause, resume or trigger-now did."""

    workflow_id: str
    trigger_id: str
    schedule_id: str
    action: str
    """`paused`, `resumed` or `triggered`."""
    state: str
    """The Schedule's state afterwards: `running` or `paused`."""


@dataclass
class WorkflowStateView:
    """A workflow's lifecycle state after a pause, resume or archive."""

    workflow_id: str
    state: WorkflowState
    changed_by: str
    reason: str
    changed_at: datetime | None
    schedules: list[str] = field(default_factory=list)
    """The Schedule ids the change paused or unpaused."""


@dataclass
class LifecycleRequest:
    """Optional body of a pause or archive: why, shown with the state."""

    reason: str = ""
