"""The approvals JSON API: approve or reject a waiting step, and the caller's inbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import JSONBody

from app.approvals import inbox
from app.approvals.inbox import WaitingApproval
from app.approvals.schemas import REFUSAL_STATUS, ApproveRequest, DecisionResponse, RejectRequest
from app.approvals.service import DecisionRefused, DecisionService, check_approver_inputs
from app.domain.approvals import Decision, DecisionAction
from app.domain.definitions import WorkflowDefinition
from app.domain.identity import User
from app.executions.service import UnknownExecution
from app.live.updates import LiveUpdates
from app.web.errors import error_responses

DECISION_ERRORS = error_responses(400, 401, 403, 404, 409, 422)
STEP = "/executions/{execution_id:str}/steps/{step_id:str}"


@dataclass
class StepDecision:
    """A decision about to be made on one step by the request's user (built per request from
    the path): sends it, nudges live viewers, and answers it or the refusal as HTTP."""

    execution_id: str
    step_id: str
    user: User
    decisions: DecisionService
    live: LiveUpdates

    async def make(self, action: DecisionAction, **details: Any) -> DecisionResponse:
        try:
            decision = Decision.by(self.user, self.step_id, action, source="api", **details)
            if decision.inputs:
                check_approver_inputs(await self.live.timelines.snapshot(self.execution_id),
                                      decision)  # fmt: skip
            async with self.live.changing(self.execution_id):
                outcome = await self.decisions.decide(self.execution_id, decision)
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None
        except DecisionRefused as exc:
            raise HTTPException(
                status_code=REFUSAL_STATUS[exc.kind],
                detail=exc.message,
                extra={"kind": exc.kind.value},
            ) from None
        self.live.nudge(self.execution_id)
        return DecisionResponse(
            execution_id=self.execution_id,
            step_id=self.step_id,
            step_status=outcome.step_status,
            approvals=outcome.approvals,
            required_approvals=outcome.required_approvals,
        )


def _step_decision(
    request: Request[User, Any, Any],
    execution_id: str,
    step_id: str,
    decisions: NamedDependency[DecisionService],
    live: NamedDependency[LiveUpdates],
) -> StepDecision:
    return StepDecision(execution_id, step_id, request.user, decisions, live)


class ApprovalApi(Controller):
    path = "/api/workflows"
    tags = ["approvals"]
    dependencies = {"decision": Provide(_step_decision, sync_to_thread=False)}

    @post(f"{STEP}/approve", status_code=200, responses=DECISION_ERRORS)
    async def approve_step(
        self, data: JSONBody[ApproveRequest], decision: NamedDependency[StepDecision]
    ) -> DecisionResponse:
        """Approve a waiting step. 409 when it is not waiting (stale or duplicate), 403 without
        the approver role or for the starter of a critical step, 422 when a confirmation or the
        typed phrase is missing or an approver input (`inputs`, the step's approval_inputs) is
        out of bounds."""
        return await decision.make(
            DecisionAction.APPROVED, confirmations=data.confirmations,
            typed_confirmation=data.typed_confirmation, reason=data.reason, inputs=data.inputs,
        )  # fmt: skip

    @post(f"{STEP}/reject", status_code=200, responses=DECISION_ERRORS)
    async def reject_step(
        self, data: JSONBody[RejectRequest], decision: NamedDependency[StepDecision]
    ) -> DecisionResponse:
        """Reject a waiting step with a reason; the execution stops and writes nothing more."""
        return await decision.make(DecisionAction.REJECTED, reason=data.reason)

    @get("/approvals", responses=error_responses(401))
    async def list_approvals(
        self,
        request: Request[User, str, Any],
        definitions: NamedDependency[dict[str, WorkflowDefinition]],
    ) -> list[WaitingApproval]:
        """Steps waiting for approval that the caller may decide (their inbox), oldest first."""
        waiting = await inbox.waiting_approvals(definitions)
        return inbox.for_user(waiting, request.user)
