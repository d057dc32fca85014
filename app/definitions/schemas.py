"""What the workflows JSON API takes and answers: listed workflows, a workflow's detail with its
triggers, and the seeds' start bodies (`run/` with trigger_data, `execute` with parameters)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.domain.definitions import WorkflowDefinition
from app.domain.statuses import WorkflowState
from app.executions.schemas import ListedExecution


@dataclass(frozen=True)
class WorkflowSummary(WorkflowDefinition):
    """A loaded definition (every field it always had: id, name, description, inputs, steps, ...)
    with its lifecycle `status` and how often and when it last ran (from the executions record)."""

    status: WorkflowState = WorkflowState.ACTIVE
    execution_count: int = 0
    last_executed_at: datetime | None = None
    """When the newest execution started (ISO 8601 with offset); null if it never ran."""


@dataclass(frozen=True)
class TriggerInfo:
    """One of the definition's `triggers:`. A webhook carries the URL to POST to; a schedule its
    spec (cron expressions and/or an interval in seconds, read in `time_zone`)."""

    type: str
    """`schedule` or `webhook`."""
    id: str
    webhook_url: str | None = None
    events: list[str] = field(default_factory=list)
    cron: list[str] = field(default_factory=list)
    interval_seconds: float | None = None
    time_zone: str | None = None
    overlap: str | None = None
    paused: bool = False
    input: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkflowDetail(WorkflowSummary):
    """`GET /api/workflows/{id}/`: the summary, who paused or archived it and why, its latest
    executions (newest first) and its triggers."""

    status_changed_by: str = ""
    status_reason: str = ""
    recent_executions: list[ListedExecution] = field(default_factory=list)
    triggers: list[TriggerInfo] = field(default_factory=list)


@dataclass
class RunWorkflowRequest:
    """`POST /api/workflows/{id}/run/`: `trigger_data` is the execution's input and what
    `{{ trigger.* }}` reads."""

    trigger_data: dict[str, Any]


@dataclass
class ExecuteWorkflowRequest:
    """`POST /executions/workflows/{workflow_id}/execute`: `parameters` is the input."""

    parameters: dict[str, Any]


@dataclass
class WorkflowStarted:
    """An accepted start (202): the execution runs on a worker from now on."""

    execution_id: str
    workflow_id: str
    status: str
    """`running`."""
    timeline_url: str
    """The execution's live page (under PATH_PREFIX when set); its JSON with Accept:
    application/json."""
