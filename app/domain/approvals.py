"""Approval rules: which confirmations a step asks for, and whether a decision may be accepted.

The workflow's update validator and signal handler, and the web layer before them, all ask
`refusal()`; one rule set means the page, the API and `temporal workflow signal` agree.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from app.domain.approval_inputs import ApprovalField, check_inputs, fields
from app.domain.definitions import StepDefinition
from app.domain.identity import Role, User, canonical_user_id, same_user
from app.domain.modes import ImpactLevel
from app.domain.templating import evaluate_condition
from app.domain.text import is_blank, normalised


class DecisionAction(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class RefusalKind(StrEnum):
    NOT_WAITING = "not_waiting"  # stale or duplicate: HTTP 409
    FORBIDDEN = "forbidden"  # identity or four-eyes: HTTP 403
    INCOMPLETE = "incomplete"  # missing confirmations, phrase or reason: HTTP 422
    UNKNOWN_STEP = "unknown_step"  # no such step in the execution: HTTP 404
    TOO_LATE = "too_late"  # reached the workflow past its window: HTTP 409, shown on the step


# How long after the click a decision may still take effect (Decision.max_age_seconds).
DEFAULT_DECISION_WINDOW = 60.0


@dataclass(frozen=True)
class Refusal:
    kind: RefusalKind
    message: str


@dataclass(frozen=True)
class ApprovalRequest:
    """What a waiting step asks of its approvers, fixed when the step starts waiting."""

    step_id: str
    confirmations: list[str]
    typed_phrase: str = ""
    required_approvals: int = 1
    approvers_group: str = ""
    four_eyes: bool = False
    started_by: str = ""
    inputs: list[ApprovalField] = field(default_factory=list)  # what the approver fills in


@dataclass
class Decision:
    """One decision on a waiting step — the one shape from the form or JSON body to the record.

    It is the payload of the `decide` update and the `approve_step` signal (field names are
    the wire format: never rename them), the entry in the timeline (`decided_at` set by the
    workflow) and, inside a DecisionRecord, the row in `decisions`. `source` says where it came
    from: "web" (the panel), "api", or "cli" — the default, because a signal sent from a shell
    carries no source. `roles`/`groups` are the signed-in user's, filled by the web layer; a
    signal without them is judged by the execution's known users.

    `decided_at` is set by the web layer at the click (the workflow then stamps the time it
    accepted it); one reaching the workflow more than `max_age_seconds` later is refused
    (`too_late`). A decision without `decided_at` (a shell's signal, an old client) is not
    age-checked.
    """

    step_id: str
    user_id: str
    action: str
    reason: str = ""
    confirmations: list[str] = field(default_factory=list)
    typed_confirmation: str = ""
    source: str = "cli"
    roles: list[str] | None = None
    groups: list[str] | None = None
    decided_at: str = ""
    max_age_seconds: float = DEFAULT_DECISION_WINDOW
    inputs: dict[str, Any] = field(default_factory=dict)  # the step's approval_inputs, filled

    @classmethod
    def by(cls, user: User, step_id: str, action: str, *, source: str, **details: Any) -> Decision:
        """A decision made by a signed-in `user` (their roles and groups travel with it);
        `details` are reason, confirmations, typed_confirmation: stored normalised."""
        return cls(
            step_id=step_id,
            user_id=user.name,
            action=action,
            source=source,
            roles=sorted(user.roles),
            groups=sorted(user.groups),
            **details,
        ).normalised()

    def normalised(self) -> Decision:
        """This decision with its text as compared and stored: reason, typed phrase and
        confirmation labels in NFC, trimmed (see app.domain.text.normalised). The user id stays
        as given: it is compared canonically, but shown as the person wrote it."""
        return replace(
            self,
            reason=normalised(self.reason),
            typed_confirmation=normalised(self.typed_confirmation),
            confirmations=[normalised(label) for label in self.confirmations],
        )


@dataclass(frozen=True)
class Approver:
    """Who decides, as the approval rules see them: a name, roles and groups."""

    name: str
    roles: frozenset[str]
    groups: frozenset[str] = frozenset()

    @classmethod
    def of(cls, user: User) -> Approver:
        return cls(user.name, frozenset(user.roles), frozenset(user.groups))


def may_decide(approver: Approver, approvers_group: str) -> bool:
    """The one rule for who may decide a waiting step (approve or reject): the approver role,
    or membership of the step's `approvers_group`. Asked by the workflow's validator, the inbox
    and the approval panel."""
    in_group = bool(approvers_group) and approvers_group in approver.groups
    return Role.APPROVER in approver.roles or in_group


def may_approve(approver: Approver, approvers_group: str, four_eyes: bool, started_by: str) -> bool:
    """Whether `approver` may approve (not only reject): may decide, and not the starter of an
    execution whose step needs four eyes (critical steps, SPEC §2)."""
    starter = four_eyes and same_user(approver.name, started_by)
    return may_decide(approver, approvers_group) and not starter


def has_approved(name: str, decisions: Iterable[Decision]) -> bool:
    """Whether `name` is among the accepted approvals in `decisions` (a step needing several
    approvers refuses a second one from the same person); names compared canonically."""
    return any(
        d.action == DecisionAction.APPROVED and same_user(d.user_id, name) for d in decisions
    )


def required_confirmations(step: StepDefinition, context: Mapping[str, Any]) -> list[str]:
    """The step's checkbox labels, with conditional ones only when their condition holds."""
    return [
        c.label
        for c in step.confirmations
        if not c.condition or evaluate_condition(c.condition, context)
    ]


def approval_request(
    step: StepDefinition,
    context: Mapping[str, Any],
    started_by: str,
    params: Mapping[str, Any] | None = None,
) -> ApprovalRequest:
    """What the waiting step asks: its confirmations (conditions read `context`), phrase,
    approvals, group, and its approver inputs with bounds read from `context` and the proposed
    `params`. Raises TemplateProblem for an input whose default or bound cannot be rendered."""
    critical = step.impact == ImpactLevel.CRITICAL
    return ApprovalRequest(
        step_id=step.id,
        confirmations=required_confirmations(step, context),
        typed_phrase=step.typed_confirmation,
        required_approvals=max(1, step.required_approvals),
        approvers_group=step.approvers_group,
        four_eyes=critical,
        started_by=started_by,
        inputs=fields(step.approval_inputs, context, params or {}) if step.approval_inputs else [],
    )


def refusal(
    request: ApprovalRequest | None,
    decision: Decision,
    approver: Approver,
    approved_by: Collection[str] = (),
) -> Refusal | None:
    """Why `decision` cannot be accepted, or None. `request` is None when the step is not
    waiting; `approved_by` lists who has already approved it (for N distinct approvals).
    User ids compare canonically (`Bob` is `bob`); text compares NFC-normalised, and a reason
    or phrase made only of invisible characters counts as none."""
    if request is None or request.step_id != decision.step_id:
        return Refusal(
            RefusalKind.NOT_WAITING, f"step {decision.step_id!r} is not waiting for approval"
        )
    if decision.action not in DecisionAction.__members__.values():
        return Refusal(
            RefusalKind.INCOMPLETE,
            f"action must be 'approved' or 'rejected', got {decision.action!r}",
        )
    if not may_decide(approver, request.approvers_group):
        allowed = "the approver role" + (
            f" or the {request.approvers_group!r} group" if request.approvers_group else ""
        )
        return Refusal(RefusalKind.FORBIDDEN, f"{approver.name} needs {allowed} to decide")
    if any(same_user(decision.user_id, earlier) for earlier in approved_by):
        return Refusal(
            RefusalKind.NOT_WAITING, f"{decision.user_id} has already approved this step"
        )
    if decision.action == DecisionAction.REJECTED:
        if is_blank(decision.reason):
            return Refusal(RefusalKind.INCOMPLETE, "a rejection needs a reason")
        return None
    if not may_approve(approver, request.approvers_group, request.four_eyes, request.started_by):
        return Refusal(
            RefusalKind.FORBIDDEN,
            "four eyes: the person who started the execution may not approve a critical step",
        )
    return _incomplete_approval(request, decision)


def _incomplete_approval(request: ApprovalRequest, decision: Decision) -> Refusal | None:
    """What an approval lacks of what `request` asks (confirmations, the typed phrase), or None.
    Compared NFC-normalised, so a label or phrase typed in another Unicode form still matches."""
    asked = {normalised(label) for label in request.confirmations}
    given = {normalised(label) for label in decision.confirmations}
    missing = [label for label in request.confirmations if normalised(label) not in given]
    if missing:
        return Refusal(RefusalKind.INCOMPLETE, f"missing confirmation(s): {'; '.join(missing)}")
    unknown = [label for label in decision.confirmations if normalised(label) not in asked]
    if unknown:
        # A page rendered for other confirmations is stale: it must not approve this one.
        return Refusal(RefusalKind.INCOMPLETE, f"unknown confirmation(s): {'; '.join(unknown)}")
    typed = normalised(decision.typed_confirmation)
    if request.typed_phrase and typed != normalised(request.typed_phrase):
        return Refusal(
            RefusalKind.INCOMPLETE, f"type the phrase {request.typed_phrase!r} exactly to approve"
        )
    _, errors = check_inputs(request.inputs, decision.inputs)
    if errors:
        return Refusal(RefusalKind.INCOMPLETE, "; ".join(errors.values()))
    return None


def too_late(decision: Decision, now: datetime) -> Refusal | None:
    """Why `decision`, reaching the workflow at `now`, is too old to take effect, or None."""
    if not decision.decided_at or decision.max_age_seconds <= 0:
        return None
    try:
        made = datetime.fromisoformat(decision.decided_at)
    except ValueError:
        return None
    made = made if made.tzinfo else made.replace(tzinfo=UTC)
    age = (now - made).total_seconds()
    if age <= decision.max_age_seconds:
        return None
    return Refusal(
        RefusalKind.TOO_LATE,
        f"not applied: made at {made.astimezone(UTC):%H:%M:%S} UTC, it reached the engine "
        f"{age:.0f} s later (decisions count for {decision.max_age_seconds:g} s)",
    )


def approvals_complete(request: ApprovalRequest, approved_by: Collection[str]) -> bool:
    """Whether `approved_by` holds enough different people (compared canonically)."""
    return len({canonical_user_id(user) for user in approved_by}) >= request.required_approvals
