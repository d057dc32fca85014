"""The executions JSON API of SPEC §5: start, list, read and cancel executions."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotFoundException, ValidationException
from litestar.params import JSONBody, Parameter

from app.domain.identity import Role, User
from app.domain.statuses import ExecutionStatus
from app.executions import listing
from app.executions.dependencies import cursor_param
from app.executions.schemas import (
    CancelResponse,
    ListedExecution,
    StartExecutionRequest,
    StartExecutionResponse,
    Timeline,
)
from app.executions.service import (
    AlreadyFinished,
    ExecutionService,
    InvalidInput,
    UnknownExecution,
)
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
        live: NamedDependency[LiveUpdates],
        status: str = "",
        workflow_id: str = "",
        waiting: bool = False,
        limit: int = Parameter(default=100, ge=1, le=500, description="Rows per page."),
        before: str = Parameter(
            default="", description="Cursor from the `X-Next-Cursor` header: the older page."
        ),
        after: str = Parameter(
            default="", description="Cursor from the `X-Prev-Cursor` header: the newer page."
        ),
    ) -> Response[list[ListedExecution]]:
        """Executions, newest first; filter by `status`, `workflow_id`, or `waiting` (a step
        waits for approval). Each row says whether it is waiting. An unknown status is 400.
        Paged by a keyset cursor over (started_at, id): at most `limit` rows; when older ones
        follow, `X-Next-Cursor` (and `Link: rel="next"`) gives `before` for the next page, and
        past the first page `X-Prev-Cursor` (`rel="prev"`) gives `after` for the newer one — a
        page keeps its rows when executions start in between. A malformed cursor is 400 naming
        the parameter, as is a `limit` outside 1-500."""
        if status and status not in ExecutionStatus.__members__.values():
            allowed = ", ".join(ExecutionStatus)
            problem = f"status must be one of {allowed}, got {status!r}"
            raise ValidationException(problem, extra={"errors": {"status": problem}})
        filters = listing.ExecutionFilter(status=status, workflow_id=workflow_id, waiting=waiting)
        page = await listing.page_executions(
            filters,
            before=cursor_param("before", before),
            after=cursor_param("after", after),
            size=limit,
            decided=live.inbox.mask,
        )
        rows = [
            ListedExecution(
                **asdict(row),
                timeline_url=f"{settings.path_prefix}/executions/{row.execution_id}",
            )
            for row in page.rows
        ]
        return Response(rows, headers=page_links(settings, filters, limit, page))

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
        responses=error_responses(401, 403, 404, 409),
    )
    async def cancel_execution(
        self,
        execution_id: str,
        executions: NamedDependency[ExecutionService],
        live: NamedDependency[LiveUpdates],
    ) -> CancelResponse:
        """Ask the execution to stop; a waiting or running step ends as cancelled. 409 when it
        has already ended."""
        try:
            await executions.cancel(execution_id)
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None
        except AlreadyFinished as exc:
            raise ClientException(str(exc), status_code=409) from None
        live.nudge(execution_id)
        return CancelResponse(execution_id=execution_id, status="cancelling")


def page_links(
    settings: Settings, filters: listing.ExecutionFilter, limit: int, page: listing.ExecutionPage
) -> dict[str, str]:
    """The list's paging headers: `X-Next-Cursor` / `X-Prev-Cursor` (the `before` / `after` of
    the older / newer page) and one `Link` header with their URLs (RFC 8288 rel next / prev)."""
    query = {"status": filters.status, "workflow_id": filters.workflow_id}
    query = {k: v for k, v in query.items() if v} | ({"waiting": "true"} if filters.waiting else {})
    path = f"{settings.path_prefix}/api/workflows/executions"
    headers, links = {}, []
    for header, param, rel, cursor in (
        ("X-Next-Cursor", "before", "next", page.older),
        ("X-Prev-Cursor", "after", "prev", page.newer),
    ):
        if cursor is not None:
            headers[header] = cursor.text
            links.append(
                f'<{path}?{urlencode({**query, "limit": limit, param: cursor.text})}>; rel="{rel}"'
            )
    if links:
        headers["Link"] = ", ".join(links)
    return headers
