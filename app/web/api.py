"""The JSON API of SPEC §5 (documented in the app's OpenAPI at /schema)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import JSONBody

from app.domain.identity import Role, User
from app.services.executions import ExecutionService, InvalidInput, UnknownExecution
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

    @get("/executions/{execution_id:str}")
    async def get_execution(
        self, execution_id: str, executions: ExecutionService
    ) -> dict[str, Any]:
        """The execution's live timeline, read from its Temporal workflow."""
        try:
            return asdict(await executions.timeline(execution_id))
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None
