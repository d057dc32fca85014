"""The JSON API of SPEC §5 (documented in the app's OpenAPI at /schema)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import JSONBody

from app.approvals import inbox
from app.approvals.http import REFUSAL_STATUS, nudge_live
from app.approvals.service import DecisionRefused, DecisionService
from app.domain.approvals import Decision
from app.domain.identity import Role, User
from app.executions import listing as listings
from app.executions.service import ExecutionService, InvalidInput, UnknownExecution
from app.temporal.contracts import DecisionOutcome
from app.web.identity import require


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


@dataclass
class ApproveRequest:
    """Every confirmation label the step asks for, and its typed phrase for critical steps."""

    confirmations: list[str] = field(default_factory=list)
    typed_confirmation: str = ""
    reason: str = ""


@dataclass
class RejectRequest:
    reason: str


@dataclass
class DecisionResponse:
    execution_id: str
    step_id: str
    step_status: str
    approvals: int
    required_approvals: int


class ExecutionApi(Controller):
    path = "/api/workflows"
    tags = ["executions"]

    @get("/")
    async def list_workflows(
        self, executions: NamedDependency[ExecutionService]
    ) -> list[dict[str, Any]]:
        """The loaded workflow definitions with their input fields and steps."""
        return [asdict(d) for d in executions.definitions.values()]

    @post("/executions/start", status_code=201)
    async def start_execution(
        self,
        request: Request[User, str, Any],
        data: JSONBody[StartExecutionRequest],
        executions: NamedDependency[ExecutionService],
    ) -> StartExecutionResponse:
        """Start an execution of a workflow definition with `workflow_data` as its input."""
        require(request.user, Role.APPROVER, "Starting an execution")
        try:
            executions.definition(data.workflow_id)
        except LookupError as exc:
            raise NotFoundException(str(exc)) from None
        try:
            execution_id = await executions.start(
                data.workflow_id, data.workflow_data, request.user
            )
        except InvalidInput as exc:
            raise ValidationException(str(exc), extra={"errors": exc.errors}) from None
        return StartExecutionResponse(
            execution_id=execution_id,
            workflow_id=data.workflow_id,
            status="running",
            timeline_url=f"/executions/{execution_id}",
        )

    @get("/executions")
    async def list_executions(
        self, status: str = "", workflow_id: str = "", waiting: bool = False, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Executions, newest first; filter by `status`, `workflow_id`, or `waiting` (a step
        waits for approval). Each row says whether it is waiting."""
        rows = await listings.list_executions(
            listings.ExecutionFilter(status=status, workflow_id=workflow_id, waiting=waiting),
            limit=max(1, min(limit, 500)),
        )
        return [{**row, "timeline_url": f"/executions/{row['execution_id']}"} for row in rows]

    @get("/approvals")
    async def list_approvals(
        self, request: Request[User, str, Any], executions: NamedDependency[ExecutionService]
    ) -> list[dict[str, Any]]:
        """Steps waiting for approval that the caller may decide (their inbox), oldest first."""
        waiting = await inbox.waiting_approvals(executions.definitions)
        return [asdict(item) for item in inbox.for_user(waiting, request.user)]

    @get("/executions/{execution_id:str}")
    async def get_execution(
        self, execution_id: str, executions: NamedDependency[ExecutionService]
    ) -> dict[str, Any]:
        """The execution's live timeline, read from its Temporal workflow."""
        try:
            return asdict(await executions.timeline(execution_id))
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None

    @post("/executions/{execution_id:str}/steps/{step_id:str}/approve", status_code=200)
    async def approve_step(
        self,
        request: Request[User, str, Any],
        execution_id: str,
        step_id: str,
        data: JSONBody[ApproveRequest],
        decisions: NamedDependency[DecisionService],
    ) -> DecisionResponse:
        """Approve a waiting step. 409 when it is not waiting (stale or duplicate), 403 without
        the approver role or for the starter of a critical step, 422 when a confirmation or the
        typed phrase is missing."""
        return await _decide(
            request, decisions, request.user, execution_id, step_id, "approved",
            confirmations=data.confirmations, typed_confirmation=data.typed_confirmation,
            reason=data.reason,
        )  # fmt: skip

    @post("/executions/{execution_id:str}/steps/{step_id:str}/reject", status_code=200)
    async def reject_step(
        self,
        request: Request[User, str, Any],
        execution_id: str,
        step_id: str,
        data: JSONBody[RejectRequest],
        decisions: NamedDependency[DecisionService],
    ) -> DecisionResponse:
        """Reject a waiting step with a reason; the execution stops and writes nothing more."""
        return await _decide(
            request, decisions, request.user, execution_id, step_id, "rejected", reason=data.reason
        )

    @post("/executions/{execution_id:str}/cancel", status_code=202)
    async def cancel_execution(
        self,
        request: Request[User, str, Any],
        execution_id: str,
        executions: NamedDependency[ExecutionService],
    ) -> dict[str, str]:
        """Ask the execution to stop; a waiting or running step ends as cancelled."""
        require(request.user, Role.APPROVER, "Cancelling an execution")
        try:
            await executions.cancel(execution_id)
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None
        nudge_live(request, execution_id)
        return {"execution_id": execution_id, "status": "cancelling"}


async def _decide(
    request: Request[User, str, Any],
    decisions: DecisionService,
    user: User,
    execution_id: str,
    step_id: str,
    action: str,
    **details: Any,
) -> DecisionResponse:
    try:
        outcome: DecisionOutcome = await decisions.decide(
            execution_id, Decision.by(user, step_id, action, source="api", **details)
        )
    except UnknownExecution as exc:
        raise NotFoundException(str(exc)) from None
    except DecisionRefused as exc:
        raise HTTPException(
            status_code=REFUSAL_STATUS[exc.kind], detail=exc.message, extra={"kind": exc.kind.value}
        ) from None
    nudge_live(request, execution_id)
    return DecisionResponse(
        execution_id=execution_id,
        step_id=step_id,
        step_status=outcome.step_status,
        approvals=outcome.approvals,
        required_approvals=outcome.required_approvals,
    )
