"""One dataclass per workflow input, query result and activity argument (fields can be added)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from app.domain.approvals import ApprovalRequest, Decision
from app.domain.definitions import WorkflowDefinition
from app.domain.notifications import Notice
from app.domain.policies import PolicyCheck
from app.domain.statuses import ExecutionStatus, StepStatus

WORKFLOW_TYPE = "StepladderExecution"


@dataclass
class KnownUser:
    """A user the execution knows by name: judges an `approve_step` signal that names the user
    but carries no roles."""

    roles: list[str]
    groups: list[str] = field(default_factory=list)


@dataclass
class ExecutionInput:
    execution_id: str
    definition: WorkflowDefinition
    input: dict[str, Any]
    started_by: str
    # The user directory at start (ExecutionService fills it). None in executions started
    # before the field existed: those use app.temporal.decision_desk.USERS_KNOWN_BEFORE_INPUT.
    known_users: dict[str, KnownUser] | None = None
    # What started it: "form", "api", "schedule:<id>", "webhook", ... ("" before the field).
    started_via: str = ""
    # `{{ trigger.* }}`: a webhook's `data`, a schedule's input; None means the input itself.
    trigger: dict[str, Any] | None = None

    def identified(self, workflow_id: str) -> ExecutionInput:
        """This input with `execution_id` set. A Temporal Schedule's start cannot know the
        workflow id Temporal gives it (action id + timestamp), so it leaves the id "" and the
        workflow fills it from `workflow.info().workflow_id`."""
        return self if self.execution_id else replace(self, execution_id=workflow_id)


@dataclass
class ModeLookup:
    """Which mode a step runs in: read from step_configs when the step is reached."""

    workflow_id: str
    step_id: str
    default_mode: str


@dataclass
class ActionInput:
    """What an action activity receives: rendered params and the key that makes it idempotent.
    With `check_mode`, the activity first reads the step's current mode and runs the action only
    if that mode is automatic (see app/temporal/actions.py `step_action`)."""

    execution_id: str
    step_id: str
    params: dict[str, Any]
    workflow_id: str = ""
    check_mode: ModeLookup | None = None

    @property
    def run_key(self) -> str:
        return f"{self.execution_id}/{self.step_id}"


@dataclass
class ActionResult:
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    # Set when the activity checked the mode (ActionInput.check_mode): the mode it read, and
    # whether it ran the action — not when the mode asks for approval or could not be read
    # (mode "": the database is unavailable; the workflow reads it again, retrying).
    mode: str = ""
    ran: bool = True


@dataclass
class FieldChange:
    """One field an operation writes; `old` is None when the field (or record) is new."""

    name: str
    new: Any
    old: Any = None
    proposed: Any = None  # set when an approver's input amended `new` (what was proposed)

    @property
    def changed(self) -> bool:
        return bool(self.old != self.new)


@dataclass
class ImpactWarning:
    severity: str  # "info" | "warning" | "critical"
    message: str


@dataclass
class PreviewRequest:
    execution_id: str
    workflow_id: str
    step_id: str
    action: str
    impact: str
    environment: str
    params: dict[str, Any]


@dataclass
class OperationPreview:
    """What a step is about to do (SPEC §2): built in an activity before it waits."""

    operation: str  # CREATE | UPDATE | SEND | READ ...
    target: str  # e.g. "crm.contacts"
    environment: str
    summary: str
    fields: list[FieldChange] = field(default_factory=list)
    impact: list[ImpactWarning] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ApprovalView(ApprovalRequest):
    """What a waiting step asks of its approvers (the domain ApprovalRequest), and since when
    and until when it waits. Two fields are given defaults again so a timeline from a worker
    that sent no `step_id` (before 2026-11-30) still decodes."""

    step_id: str = ""
    confirmations: list[str] = field(default_factory=list)
    waiting_since: str = ""
    expires_at: str = ""

    @classmethod
    def asking(cls, request: ApprovalRequest, waiting_since: str, expires_at: str) -> ApprovalView:
        """What `request` asks, for the timeline."""
        # Shallow, not asdict: nested fields (the approver inputs) keep their types.
        own = {f.name: getattr(request, f.name) for f in fields(request)}
        return cls(**own, waiting_since=waiting_since, expires_at=expires_at)


@dataclass
class DecisionOutcome:
    """The `decide` update's answer: the step's status after the decision."""

    step_id: str
    step_status: str
    approvals: int
    required_approvals: int


@dataclass(kw_only=True)
class DecisionRecord(Decision):
    """A decision as the `decisions` table keeps it: the decision itself (its wire fields,
    `decided_at` set by the workflow) plus its keys, and whether it was accepted — an ignored
    `approve_step` signal is recorded too, with the refusal."""

    decision_key: str
    execution_id: str
    workflow_id: str
    accepted: bool = True
    refusal: str = ""


@dataclass
class StepState:
    id: str
    name: str
    action: str
    impact: str
    mode: str
    status: str = StepStatus.PENDING.value
    started_at: str = ""
    ended_at: str = ""
    duration_ms: int | None = None
    summary: str = ""
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    preview: OperationPreview | None = None
    approval: ApprovalView | None = None
    decisions: list[Decision] = field(default_factory=list)  # accepted ones, decided_at set
    ignored_signals: list[str] = field(default_factory=list)
    # Notifications about this step that could not be delivered, in words (never fatal).
    notices: list[str] = field(default_factory=list)
    # The safety policies checked before the step ran (app/temporal/policy_checks.py).
    policy_checks: list[PolicyCheck] = field(default_factory=list)
    # A `run:` step: the child execution it started (its timeline at /executions/<id>).
    child_execution_id: str = ""
    child_workflow_id: str = ""

    def end(self, status: StepStatus, at: datetime, summary: str = "", error: str = "") -> None:
        """End the step run at `at` (the workflow's clock) with `status`, saying why; its
        duration (ms) counts from `started_at` when it started."""
        self.status, self.summary, self.error = status, summary, error
        self.ended_at = at.isoformat()
        if self.started_at:
            started = datetime.fromisoformat(self.started_at)
            self.duration_ms = int((at - started).total_seconds() * 1000)


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
    # Set by the web layer when no worker answered the query: read from PostgreSQL's records
    # ("records") or this process's last answer ("last_seen"), possibly out of date.
    stale: bool = False
    source: str = "workflow"
    # Step ids level by level when steps run side by side (`depends_on`); empty: in order.
    groups: list[list[str]] = field(default_factory=list)

    @property
    def step_groups(self) -> list[list[StepState]]:
        """The steps as the page lays them out: a group per level of the step graph (steps of
        one group run side by side), or one group per step when they run in order."""
        if not self.groups:
            return [[step] for step in self.steps]
        by_id = {step.id: step for step in self.steps}
        return [[by_id[i] for i in group if i in by_id] for group in self.groups]

    @property
    def finished(self) -> bool:
        return self.status != ExecutionStatus.RUNNING

    @property
    def completed_count(self) -> int:
        return sum(1 for step in self.steps if step.status == StepStatus.COMPLETED)


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

    @classmethod
    def of(cls, execution_id: str, workflow_id: str, state: StepState) -> StepRunRecord:
        """The step run's record as the timeline shows it now."""
        s = state
        return cls(execution_id, workflow_id, s.id, s.mode, s.status, s.started_at, s.ended_at,
                   s.duration_ms, s.summary, s.error)  # fmt: skip


@dataclass
class StepRunBatch:
    records: list[StepRunRecord]


@dataclass
class ProgressRecord:
    """What an execution has not yet written, written in one transaction (`record_progress`):
    its start, step outcomes, its end. The start comes again with the end (it is idempotent),
    so an end can never land before the start it updates."""

    started: ExecutionStarted | None = None
    step_runs: list[StepRunRecord] = field(default_factory=list)
    finished: ExecutionFinished | None = None

    def __bool__(self) -> bool:
        return bool(self.started or self.step_runs or self.finished)


@dataclass(frozen=True)
class NotificationRequest:
    """One notice to one channel. `key` names this send uniquely (execution, step, kind, its
    number, channel): a send already made under it is not made again."""

    key: str
    channel: str
    notice: Notice


@dataclass(frozen=True)
class NotificationResult:
    delivered: bool
    duplicate: bool = False
