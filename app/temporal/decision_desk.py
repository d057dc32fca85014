"""The workflow's decision desk: decisions on the waiting steps (one at a time, or several on
parallel branches, each found by the decision's step id) — judged by the domain's one
rule set (`refusal`), accepted, or (a signal) ignored with the reason shown — and the queue of
decision records still to write. Deterministic: workflow code, called from its handlers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

from temporalio import workflow

from app.domain.approvals import (
    ApprovalRequest,
    Approver,
    Decision,
    DecisionAction,
    Refusal,
    RefusalKind,
    approvals_complete,
    refusal,
    too_late,
)
from app.domain.definitions import StepDefinition
from app.domain.identity import canonical_user_id
from app.domain.statuses import StepStatus
from app.domain.text import duration_text
from app.temporal.contracts import (
    DecisionOutcome,
    DecisionRecord,
    ExecutionInput,
    KnownUser,
    StepState,
)
from app.temporal.record_queue import run_db_activity
from app.temporal.recording import RecordingActivities

# Workflow version (a workflow.patched id; keep it until no execution started before it runs):
# a decision reaching the workflow past its window is refused and shown under its step.
DECISION_AGE_WINDOW = "decision-age-window"

# Who rejects a step whose approval timed out with `on_timeout: reject`.
SYSTEM_USER = "stepladder"

# The users known to workers before 2026-11-30, when ExecutionInput.known_users was added:
# an execution started before then (its input has no known_users) judges a signal without roles
# by this table. Frozen, never edit: replaying those executions must take the same decisions.
USERS_KNOWN_BEFORE_INPUT: Mapping[str, KnownUser] = {
    "ada": KnownUser(roles=["admin", "approver", "viewer"]),
    "bob": KnownUser(roles=["approver", "viewer"]),
    "carol": KnownUser(roles=["approver", "viewer"]),
    "vera": KnownUser(roles=["viewer"]),
}


@dataclass
class Waiting:
    """A step currently waiting for decisions."""

    request: ApprovalRequest
    state: StepState
    approved_by: list[str] = field(default_factory=list)
    verdict: str = ""  # "approved" | "rejected" once decided
    decided_by: str = ""
    reason: str = ""


class DecisionDesk:
    def __init__(self) -> None:
        # step id → its wait: one entry in a sequential execution, one per waiting branch.
        self.waiting: dict[str, Waiting] = {}
        self._flushing = False  # a branch is writing decision records (see `flush`)
        self._execution_id = ""
        self._workflow_id = ""
        self._known_users: Mapping[str, KnownUser] = {}
        self._unrecorded: list[DecisionRecord] = []
        self._count = 0

    def open(self, inp: ExecutionInput) -> None:
        """Ready the desk for `inp`'s execution (at the start of the run)."""
        self._execution_id, self._workflow_id = inp.execution_id, inp.definition.id
        known = USERS_KNOWN_BEFORE_INPUT if inp.known_users is None else inp.known_users
        # Looked up canonically: a signal from `Bob` is bob's.
        self._known_users = {canonical_user_id(name): user for name, user in known.items()}

    def first_waiting(self) -> StepState | None:
        """The step that began waiting first among those waiting now (None: none waits)."""
        return next((w.state for w in self.waiting.values()), None)

    @property
    def has_unrecorded(self) -> bool:
        return bool(self._unrecorded)

    def too_late(self, decision: Decision) -> Refusal | None:
        """Why a decision past its window may not take effect (Decision.decided_at +
        max_age_seconds, set by the web layer), or None; executions from before the
        DECISION_AGE_WINDOW patch never refused one."""
        late = too_late(decision, workflow.now())
        return late if late and workflow.patched(DECISION_AGE_WINDOW) else None

    def refusal(self, decision: Decision, state: StepState | None) -> Refusal | None:
        """Why `decision` on `state` (None: no such step) cannot be accepted now, or None."""
        if state is None:
            return Refusal(
                RefusalKind.UNKNOWN_STEP, f"no step {decision.step_id!r} in this execution"
            )
        waiting = self.waiting.get(decision.step_id)
        if waiting is None or waiting.state is not state or waiting.verdict:
            return Refusal(
                RefusalKind.NOT_WAITING,
                f"step {decision.step_id!r} is not waiting for approval "
                f"(it is {StepStatus(state.status).label})",
            )
        approver = self._approver(decision)
        if approver is None:
            return Refusal(
                RefusalKind.FORBIDDEN,
                f"unknown user {decision.user_id!r}: name a known user or send their roles",
            )
        return refusal(waiting.request, decision, approver, waiting.approved_by)

    def _approver(self, decision: Decision) -> Approver | None:
        """Who decides: the web layer sends the signed-in user's roles; a signal from a shell
        names a user, whose roles come from the execution's known users unless it carries them."""
        if decision.roles is not None:
            return Approver(
                decision.user_id, frozenset(decision.roles), frozenset(decision.groups or ())
            )
        known = self._known_users.get(canonical_user_id(decision.user_id))
        if known is None:
            return None
        return Approver(decision.user_id, frozenset(known.roles), frozenset(known.groups))

    def accept(self, decision: Decision) -> DecisionOutcome:
        """Take a decision `refusal` found nothing against: the step's verdict once complete."""
        waiting = self.waiting[decision.step_id]
        state = waiting.state
        decided = _dated(decision)
        state.decisions.append(decided)
        self._queue(decided, accepted=True)
        if decision.action == DecisionAction.REJECTED:
            waiting.verdict, waiting.decided_by = DecisionAction.REJECTED, decision.user_id
            waiting.reason = decided.reason
            state.status = StepStatus.REJECTED
        else:
            waiting.approved_by.append(decision.user_id)
            if approvals_complete(waiting.request, waiting.approved_by):
                waiting.verdict, waiting.decided_by = DecisionAction.APPROVED, decision.user_id
                state.status = StepStatus.APPROVED
        return DecisionOutcome(
            step_id=state.id,
            step_status=state.status,
            approvals=len(waiting.approved_by),
            required_approvals=waiting.request.required_approvals,
        )

    def ignore(self, decision: Decision, refused: Refusal, target: StepState) -> None:
        """An invalid signal: shown under `target` with why, and recorded as not accepted."""
        target.ignored_signals.append(
            f"{workflow.now().isoformat()} · {decision.user_id or 'unknown user'} "
            f"({decision.action or 'no action'}): {refused.message}"
        )
        self._queue(_dated(decision), accepted=False, refusal=refused.message)

    def _queue(self, decision: Decision, *, accepted: bool, refusal: str = "") -> None:
        self._count += 1
        self._unrecorded.append(
            DecisionRecord(
                **asdict(decision),
                decision_key=f"{self._execution_id}/{decision.step_id}/{self._count}",
                execution_id=self._execution_id,
                workflow_id=self._workflow_id,
                accepted=accepted,
                refusal=refusal,
            )
        )

    async def flush(self) -> None:
        """Write the queued decision records, one local activity each, in order. Branches
        waiting side by side may call it together: one writes, the others wait for it."""
        while self._unrecorded:
            if self._flushing:
                await workflow.wait_condition(lambda: not self._flushing)
                continue
            self._flushing = True
            try:
                await run_db_activity(RecordingActivities.record_decision, self._unrecorded[0])
                self._unrecorded.pop(0)
            finally:
                self._flushing = False


def wait_ended(step: StepDefinition, waiting: Waiting) -> tuple[StepStatus, str]:
    """How a wait ended — approved, rejected (by a person, or on timeout) or expired — and the
    step's summary for it."""
    if not waiting.verdict:
        why = f"No decision within {duration_text(step.approval_timeout_seconds)}"
        if step.on_timeout != "reject":
            return StepStatus.EXPIRED, f"Expired: {why.lower()}"
        waiting.verdict, waiting.decided_by = DecisionAction.REJECTED, SYSTEM_USER
        waiting.reason = why
    if waiting.verdict == DecisionAction.REJECTED:
        return StepStatus.REJECTED, f"Rejected by {waiting.decided_by}: {waiting.reason}"
    return StepStatus.APPROVED, ""


def _dated(decision: Decision) -> Decision:
    """The decision as the timeline shows it and the record keeps it: its text normalised
    (app.domain.approvals.Decision.normalised), decided now."""
    return replace(decision.normalised(), decided_at=workflow.now().isoformat())
