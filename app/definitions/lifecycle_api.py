"""The workflow lifecycle JSON API: pause, resume and archive (DELETE) a workflow."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import JSONBody

from app.definitions.schedules_api import answered
from app.definitions.schedules_control import ScheduleControl
from app.definitions.schedules_schemas import LifecycleRequest, WorkflowStateView
from app.domain.identity import Role, User
from app.domain.statuses import WorkflowState
from app.web.errors import error_responses
from app.web.guards import requires

CHANGING = "Pausing, resuming or archiving a workflow"


def state_responses(state: WorkflowState, schedules: list[str]) -> dict[int, ResponseSpec]:
    """The OpenAPI responses of a lifecycle change: the new state with an example, and errors."""
    example = {
        "workflow_id": "customer_onboarding",
        "state": state.value,
        "changed_by": "ada",
        "reason": "CRM maintenance" if state is not WorkflowState.ACTIVE else "",
        "changed_at": "2026-11-30T09:15:00+00:00",
        "schedules": schedules,
    }
    return {
        200: ResponseSpec(
            WorkflowStateView,
            description=f"The workflow is {state.value}",
            examples=[Example(summary=f"Workflow {state.value}", value=example)],
        ),
        **error_responses(401, 403, 404, 409, 503),
    }


class WorkflowLifecycleApi(Controller):
    path = "/api/workflows"
    tags = ["workflows"]
    guards = [requires(Role.ADMIN, CHANGING)]

    @post(
        "/{workflow_id:str}/pause",
        status_code=200,
        responses=state_responses(WorkflowState.PAUSED, ["stepladder:customer_onboarding:nightly"]),
    )
    async def pause_workflow(
        self,
        workflow_id: str,
        request: Request[User, Any, Any],
        schedule_control: NamedDependency[ScheduleControl],
        data: JSONBody[LifecycleRequest | None] = None,
    ) -> WorkflowStateView:
        """Pause the workflow: starts (form, API, webhooks) answer 409 saying why, and its
        running Schedules are paused with the note "paused by workflow pause"."""
        reason = data.reason if data else ""
        return await answered(schedule_control.set_workflow_state(
            workflow_id, WorkflowState.PAUSED, request.user.name, reason
        ))  # fmt: skip

    @post(
        "/{workflow_id:str}/resume",
        status_code=200,
        responses=state_responses(WorkflowState.ACTIVE, ["stepladder:customer_onboarding:nightly"]),
    )
    async def resume_workflow(
        self,
        workflow_id: str,
        request: Request[User, Any, Any],
        schedule_control: NamedDependency[ScheduleControl],
    ) -> WorkflowStateView:
        """Resume a paused workflow: it starts executions again and the Schedules its pause
        paused run again (one paused by itself stays paused). 409 for an archived workflow."""
        return await answered(schedule_control.set_workflow_state(
            workflow_id, WorkflowState.ACTIVE, request.user.name
        ))  # fmt: skip


# DELETE /api/workflows/{workflow_id}/ shares its path with GET (app/definitions/controllers.py).
# Litestar 2.25 refuses two controllers on one path (each brings an OPTIONS handler: "Handler
# already registered ... OPTIONS"), so this one is a plain handler, registered after the
# controllers (app/web/app.py), where it joins their route.
@delete(
    "/api/workflows/{workflow_id:str}",
    status_code=200,
    tags=["workflows"],
    guards=[requires(Role.ADMIN, CHANGING)],
    responses=state_responses(WorkflowState.ARCHIVED, ["stepladder:customer_onboarding:nightly"]),
)
async def archive_workflow(
    workflow_id: str,
    request: Request[User, Any, Any],
    schedule_control: NamedDependency[ScheduleControl],
    data: JSONBody[LifecycleRequest | None] = None,
) -> WorkflowStateView:
    """Archive the workflow for good: no new starts, its Schedules paused for good; its
    executions and their history stay readable."""
    reason = data.reason if data else ""
    return await answered(schedule_control.set_workflow_state(
        workflow_id, WorkflowState.ARCHIVED, request.user.name, reason
    ))  # fmt: skip
