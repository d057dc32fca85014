"""What the executions API takes and answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.executions.listing import ExecutionRow
from app.temporal.contracts import Timeline

__all__ = [
    "CancelResponse",
    "ListedExecution",
    "StartExecutionRequest",
    "StartExecutionResponse",
    "Timeline",
]
# `Timeline` (the workflow's `timeline` query result) is what GET .../executions/{id} answers.


@dataclass
class StartExecutionRequest:
    workflow_id: str
    workflow_data: dict[str, Any] = field(default_factory=dict)


@dataclass
class StartExecutionResponse:
    execution_id: str
    workflow_id: str
    status: str
    timeline_url: str
    """The execution's live page, under PATH_PREFIX when the app is served under one."""


@dataclass
class ListedExecution(ExecutionRow):
    """An execution in the API's list: its row, and the link to its live page."""

    timeline_url: str


@dataclass
class CancelResponse:
    execution_id: str
    status: str
    """Always `cancelling`: the execution stops once its workflow handles the cancellation."""
