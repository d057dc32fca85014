"""One dataclass per workflow input, query result and activity argument (fields can be added)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain.definitions import WorkflowDefinition

WORKFLOW_TYPE = "StepladderExecution"


@dataclass
class ExecutionInput:
    execution_id: str
    definition: WorkflowDefinition
    input: dict[str, Any]
    started_by: str


@dataclass
class ActionInput:
    """What an action activity receives: rendered params and the key that makes it idempotent."""

    execution_id: str
    step_id: str
    params: dict[str, Any]

    @property
    def run_key(self) -> str:
        return f"{self.execution_id}/{self.step_id}"


@dataclass
class ActionResult:
    summary: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepState:
    id: str
    name: str
    action: str
    impact: str
    mode: str
    status: str = "pending"
    started_at: str = ""
    ended_at: str = ""
    duration_ms: int | None = None
    summary: str = ""
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class Timeline:
    """Everything a timeline page needs; `version` grows with every change."""

    execution_id: str
    workflow_id: str
    workflow_name: str
    definition_hash: str
    status: str
    started_by: str
    started_at: str
    ended_at: str
    outcome: str
    version: int
    steps: list[StepState]

    @property
    def finished(self) -> bool:
        return self.status not in ("running",)

    @property
    def completed_count(self) -> int:
        return sum(1 for step in self.steps if step.status == "completed")


@dataclass
class ExecutionStarted:
    execution_id: str
    workflow_id: str
    workflow_name: str
    definition_hash: str
    input: dict[str, Any]
    started_by: str
    started_at: str


@dataclass
class ExecutionFinished:
    execution_id: str
    status: str
    outcome: str
    ended_at: str


@dataclass
class StepRunRecord:
    execution_id: str
    workflow_id: str
    step_id: str
    mode: str
    status: str
    started_at: str
    ended_at: str
    duration_ms: int | None
    summary: str
    error: str
