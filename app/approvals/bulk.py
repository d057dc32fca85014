"""Bulk approve: one step of several executions of one workflow, each approved as a separate
decision through `DecisionService.decide` (the workflow's validator), reported item by item."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from app.approvals.inbox import WaitingApproval, bulk_approvable, for_user
from app.approvals.service import DecisionRefused, DecisionService
from app.domain.approvals import Decision, DecisionAction
from app.domain.availability import ServiceUnavailable
from app.domain.definitions import StepDefinition, WorkflowDefinition
from app.domain.identity import User
from app.executions.service import UnknownExecution
from app.temporal.contracts import Timeline

APPROVED, REFUSED = "approved", "refused"


class BulkRefused(Exception):
    """The selection as a whole cannot be approved in bulk (mixed workflows or steps, a critical
    step, a typed phrase, nothing selected); `status` is the HTTP status it reads as."""

    def __init__(self, message: str, status: int = 422, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


@dataclass(frozen=True)
class BulkItemResult:
    """One execution's outcome: `result` APPROVED or REFUSED with `reason`."""

    execution_id: str
    result: str
    reason: str = ""
    step_status: str = ""
    key_input: str = ""
    summary: str = ""

    @property
    def message(self) -> str:
        return self.result if self.result == APPROVED else f"{REFUSED}: {self.reason}"


@dataclass(frozen=True)
class Preflight:
    """What the pre-flight page lists: the step, each selected waiting item, the confirmations
    to tick once (the union of what the executions ask, in the definition's order)."""

    workflow: WorkflowDefinition
    step: StepDefinition
    items: list[WaitingApproval]
    confirmations: list[str]
    missing: list[str]  # selected executions no longer in the caller's inbox


TimelineReader = Callable[[str], Awaitable[Timeline]]


def parse_selection(values: Sequence[str]) -> list[tuple[str, str]]:
    """Form checkbox values `execution_id/step_id` as (execution_id, step_id) pairs."""
    pairs = []
    for value in values:
        execution_id, _, step_id = value.rpartition("/")
        if execution_id and step_id:
            pairs.append((execution_id, step_id))
    return pairs


class BulkApproval:
    """Bulk approvals by one user: `definitions` (loaded), `decisions` (the single-approval
    path), `timeline` (reads an execution's timeline: what its waiting step asks)."""

    def __init__(
        self,
        definitions: Mapping[str, WorkflowDefinition],
        decisions: DecisionService,
        timeline: TimelineReader,
    ) -> None:
        self.definitions = definitions
        self.decisions = decisions
        self.timeline = timeline

    def step_of(self, workflow_id: str, step_id: str) -> tuple[WorkflowDefinition, StepDefinition]:
        """The workflow and step, if they may be approved in bulk; else BulkRefused (404 for an
        unknown one, 422 for a critical step or a typed phrase)."""
        definition = self.definitions.get(workflow_id)
        if definition is None:
            raise BulkRefused(f"unknown workflow {workflow_id!r}", 404, "workflow_id")
        step = next((s for s in definition.steps if s.id == step_id), None)
        if step is None:
            raise BulkRefused(f"workflow {workflow_id!r} has no step {step_id!r}", 404, "step_id")
        if not bulk_approvable(step):
            why = "a critical step" if step.impact == "critical" else "a step with a typed phrase"
            raise BulkRefused(
                f"{step.name} is {why}: it is never approved in bulk; approve each on its "
                "timeline", 422, "step_id",
            )  # fmt: skip
        return definition, step

    async def asked(self, execution_id: str, step_id: str) -> list[str] | None:
        """The confirmations the execution's waiting step asks for; None when unknown."""
        return (await self._read(execution_id, step_id))[1]

    async def _read(self, execution_id: str, step_id: str) -> tuple[str, list[str] | None]:
        """The execution's workflow id and what its waiting step asks; ("", None) unknown."""
        try:
            timeline = await self.timeline(execution_id)
        except Exception:  # noqa: BLE001 - unknown: the validator judges what is sent
            return "", None
        state = next((s for s in timeline.steps if s.id == step_id), None)
        if state is None or state.approval is None:
            return timeline.workflow_id, None
        return timeline.workflow_id, list(state.approval.confirmations)

    async def preflight(
        self, user: User, waiting: Sequence[WaitingApproval], selected: Sequence[tuple[str, str]]
    ) -> Preflight:
        """The pre-flight of `selected` (execution_id, step_id) pairs among `waiting` (the
        inbox). BulkRefused when nothing is selected or it mixes workflows or steps."""
        if not selected:
            raise BulkRefused("select at least one waiting step", 400, "selected")
        mine = {(i.execution_id, i.step_id): i for i in for_user(waiting, user)}
        items = [mine[pair] for pair in selected if pair in mine]
        kinds = {(i.workflow_id, i.step_id) for i in items} or {("", selected[0][1])}
        if len(kinds) > 1 or len({step for _, step in selected}) > 1:
            raise BulkRefused(
                "select steps of one workflow and one step only: bulk approve applies one "
                "step's confirmations to every selected execution", 400, "selected",
            )  # fmt: skip
        if not items:
            raise BulkRefused("none of the selected steps is waiting for you any more", 409)
        definition, step = self.step_of(items[0].workflow_id, items[0].step_id)
        asked: set[str] = set()
        for item in items:
            labels = await self.asked(item.execution_id, step.id)
            asked.update(labels if labels is not None else (c.label for c in step.confirmations))
        confirmations = [c.label for c in step.confirmations if c.label in asked]
        missing = [e for e, s in selected if (e, s) not in mine]
        return Preflight(definition, step, items, confirmations, missing)

    async def approve_all(
        self,
        user: User,
        workflow_id: str,
        step_id: str,
        execution_ids: Sequence[str],
        confirmations: Sequence[str],
        *,
        source: str,
        waiting: Sequence[WaitingApproval] = (),
    ) -> list[BulkItemResult]:
        """Approve `step_id` of each execution, one decision each (in the given order, each
        id once). `confirmations` are ticked once; each execution is sent those its step asks
        for, so one that asks for a label left unticked is refused for it alone."""
        self.step_of(workflow_id, step_id)
        if not execution_ids:
            raise BulkRefused("execution_ids is empty: select at least one", 400, "execution_ids")
        known = {i.execution_id: i for i in waiting if i.step_id == step_id}
        results = []
        for execution_id in dict.fromkeys(execution_ids):
            item = known.get(execution_id)
            outcome = await self._approve_one(user, workflow_id, step_id, execution_id,
                                              confirmations, source)  # fmt: skip
            results.append(
                BulkItemResult(
                    execution_id,
                    outcome.result,
                    outcome.reason,
                    outcome.step_status,
                    item.key_input if item else "",
                    item.summary if item else "",
                )  # fmt: skip
            )
        return results

    async def _approve_one(
        self,
        user: User,
        workflow_id: str,
        step_id: str,
        execution_id: str,
        ticked: Sequence[str],
        source: str,
    ) -> BulkItemResult:
        belongs_to, asked = await self._read(execution_id, step_id)
        if belongs_to and belongs_to != workflow_id:
            return BulkItemResult(
                execution_id, REFUSED, f"it is an execution of {belongs_to!r}, not {workflow_id!r}"
            )
        sent = [c for c in ticked if asked is None or c in asked]
        decision = Decision.by(user, step_id, DecisionAction.APPROVED, source=source,
                               confirmations=sent)  # fmt: skip
        try:
            outcome = await self.decisions.decide(execution_id, decision)
        except DecisionRefused as exc:
            return BulkItemResult(execution_id, REFUSED, exc.message)
        except UnknownExecution:
            return BulkItemResult(execution_id, REFUSED, f"no execution {execution_id!r}")
        except ServiceUnavailable as exc:
            return BulkItemResult(execution_id, REFUSED, exc.reason)
        return BulkItemResult(execution_id, APPROVED, step_status=outcome.step_status)
