"""The executions JSON API of SPEC §5: start, list, read and cancel executions."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import JSONBody

from app.domain.identity import Role, User
from app.domain.statuses import ExecutionStatus
from app.executions import listing
from app.executions.schemas import (
    CancelResponse,
    ListedExecution,
    StartExecutionRequest,
    StartExecutionResponse,
    Timeline,
)
from app.executions.service import ExecutionService, InvalidInput, UnknownExecution
from app.live.updates import LiveUpdates
from app.settings import Settings
from app.web.errors import error_responses
from app.web.guards import requires


class ExecutionApi(Controller):
    path = "/api/workflows/executions"
    tags = ["executions"]

    @post(
        "/start",
        status_code=201,
        guards=[requires(Role.APPROVER, "Starting an execution")],
        responses=error_responses(400, 401, 403, 404, 409, 429),
    )
    async def start_execution(
        self,
        request: Request[User, str, Any],
        data: JSONBody[StartExecutionRequest],
        executions: NamedDependency[ExecutionService],
        live: NamedDependency[LiveUpdates],
        settings: NamedDependency[Settings],
    ) -> StartExecutionResponse:
        """Start an execution of a workflow definition with `workflow_data` as its input."""
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
        live.nudge(execution_id)
        return StartExecutionResponse(
            execution_id=execution_id,
            workflow_id=data.workflow_id,
            status=ExecutionStatus.RUNNING,
            timeline_url=f"{settings.path_prefix}/executions/{execution_id}",
        )

    @get("/", responses=error_responses(400, 401))
    async def list_executions(
        self,
        settings: NamedDependency[Settings],
        status: str = "",
        workflow_id: str = "",
        waiting: bool = False,
        limit: int = 100,
    ) -> list[ListedExecution]:
        """Executions, newest first; filter by `status`, `workflow_id`, or `waiting` (a step
        waits for approval). Each row says whether it is waiting. An unknown status is 400."""
        if status and status not in ExecutionStatus.__members__.values():
            allowed = ", ".join(ExecutionStatus)
            problem = f"status must be one of {allowed}, got {status!r}"
            raise ValidationException(problem, extra={"errors": {"status": problem}})
        rows = await listing.list_executions(
            listing.ExecutionFilter(status=status, workflow_id=workflow_id, waiting=waiting),
            limit=max(1, min(limit, 500)),
        )
        return [
            ListedExecution(
                **asdict(row),
                timeline_url=f"{settings.path_prefix}/executions/{row.execution_id}",
            )
            for row in rows
        ]

    @get("/{execution_id:str}", responses=error_responses(401, 404))
    async def get_execution(
        self, execution_id: str, executions: NamedDependency[ExecutionService]
    ) -> Timeline:
        """The execution's timeline, read from its Temporal workflow now."""
        try:
            return await executions.timeline(execution_id)
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None

    @post(
        "/{execution_id:str}/cancel",
        status_code=202,
        guards=[requires(Role.APPROVER, "Cancelling an execution")],
        responses=error_responses(401, 403, 404),
    )
    async def cancel_execution(
        self,
        execution_id: str,
        executions: NamedDependency[ExecutionService],
        live: NamedDependency[LiveUpdates],
    ) -> CancelResponse:
        """Ask the execution to stop; a waiting or running step ends as cancelled."""
        try:
            await executions.cancel(execution_id)
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None
        live.nudge(execution_id)
        return CancelResponse(execution_id=execution_id, status="cancelling")
