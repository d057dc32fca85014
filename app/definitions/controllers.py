"""Workflow definitions over HTTP: `/workflows` pages, the workflows JSON API (list, detail,
`run/`) and the seeds' `POST /executions/workflows/{workflow_id}/execute`."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body
from litestar.response import Template

from app.definitions.lookup import definition_or_404
from app.definitions.schedules_control import ScheduleControl
from app.definitions.schemas import (
    ExecuteWorkflowRequest,
    RunWorkflowRequest,
    WorkflowDetail,
    WorkflowStarted,
    WorkflowSummary,
)
from app.definitions.service import WorkflowCatalog
from app.domain.definitions import WorkflowDefinition
from app.domain.identity import Role, User
from app.domain.statuses import ExecutionStatus
from app.executions.service import ExecutionService, InvalidInput, UnknownWorkflow
from app.live.updates import LiveUpdates
from app.settings import Settings
from app.web.errors import error_responses
from app.web.guards import requires

STARTING = "Starting an execution"
ONBOARDING = {"name": "John Doe", "email": "john@example.com", "tier": "premium"}
STARTED_EXAMPLE = {
    "execution_id": "customer_onboarding-3f2a9c1b7d4e",
    "workflow_id": "customer_onboarding",
    "status": "running",
    "timeline_url": "/executions/customer_onboarding-3f2a9c1b7d4e",
}


SUMMARY_EXAMPLE = {
    "id": "customer_onboarding",
    "name": "Customer Onboarding",
    "description": "Validate, de-duplicate and set up a new customer.",
    "inputs": [{"name": "email", "type": "email", "label": "Email", "required": True}],
    "steps": [{"id": "validate_email", "name": "Validate Email", "action": "validate_email",
               "impact": "read"}],
    "key_input": "name",
    "status": "active",
    "execution_count": 42,
    "last_executed_at": "2026-11-30T09:15:02.118000+00:00",
}  # fmt: skip
DETAIL_EXAMPLE = {
    **SUMMARY_EXAMPLE,
    "status_changed_by": "",
    "status_reason": "",
    "recent_executions": [{**STARTED_EXAMPLE, "status": "completed", "waiting": False}],
    "triggers": [
        {"type": "webhook", "id": "webhook", "events": ["customer.created"],
         "webhook_url": "https://stepladder.example.com/api/workflows/webhooks/customer_onboarding/"},
        {"type": "schedule", "id": "nightly", "cron": ["0 2 * * *"], "time_zone": "Europe/Paris",
         "overlap": "skip", "paused": False},
    ],
}  # fmt: skip


def _example(container: Any, description: str, value: Any) -> dict[int, ResponseSpec]:
    """A 200 with its schema and one example (shortened: real answers hold every field)."""
    spec = ResponseSpec(
        data_container=container,
        description=description,
        examples=[Example(summary="Shortened", value=value)],
        generate_examples=False,
    )
    return {200: spec}


def _started(description: str) -> dict[int, ResponseSpec]:
    """The 202 of a start, with its example, beside the errors a start may answer."""
    accepted = ResponseSpec(
        data_container=WorkflowStarted,
        description=description,
        examples=[Example(summary="Started", value=STARTED_EXAMPLE)],
        generate_examples=False,
    )
    return {202: accepted, **error_responses(400, 401, 403, 404, 409, 503)}


async def start_for_api(
    request: Request[User, Any, Any],
    executions: ExecutionService,
    live: LiveUpdates,
    settings: Settings,
    start: tuple[str, dict[str, Any], str, dict[str, Any] | None],
) -> WorkflowStarted:
    """Start (workflow_id, input, via, trigger) for an API caller: unknown workflow → 404, bad
    input → 400 naming each field in `extra.errors`; paused/archived → 409 (WorkflowNotAccepting,
    mapped by app/web/errors.py); Temporal down → 503."""
    workflow_id, data, via, trigger = start
    try:
        execution_id = await executions.start(
            workflow_id, data, request.user, via=via, trigger=trigger
        )
    except UnknownWorkflow as exc:
        raise NotFoundException(str(exc)) from None
    except InvalidInput as exc:
        raise ValidationException(str(exc), extra={"errors": exc.errors}) from None
    live.nudge(execution_id)
    return WorkflowStarted(
        execution_id=execution_id,
        workflow_id=workflow_id,
        status=ExecutionStatus.RUNNING,
        timeline_url=f"{settings.path_prefix}/executions/{execution_id}",
    )


class WorkflowPages(Controller):
    include_in_schema = False  # HTML pages: /schema documents the JSON API
    path = "/workflows"

    @get("/")
    async def workflows(
        self,
        definitions: NamedDependency[dict[str, WorkflowDefinition]],
        executions: NamedDependency[ExecutionService],
    ) -> Template:
        """The loaded definitions, each saying whether it is paused or archived."""
        states = await executions.lifecycle.states()
        return Template(
            "workflows.html", context={"definitions": definitions.values(), "states": states}
        )

    @get("/{workflow_id:str}")
    async def workflow(
        self,
        workflow_id: str,
        definitions: NamedDependency[dict[str, WorkflowDefinition]],
        executions: NamedDependency[ExecutionService],
        schedule_control: NamedDependency[ScheduleControl],
    ) -> Template:
        """A workflow's steps, its Execute workflow form (or why it starts nothing: paused or
        archived), its Schedules and its recent executions."""
        definition = definition_or_404(definitions, workflow_id)
        return Template(
            "workflow.html",
            context={
                "definition": definition,
                "values": {f.name: f.default or "" for f in definition.inputs},
                "errors": {},
                "recent": await executions.recent(limit=10, workflow_id=workflow_id),
                **await schedule_control.page_context(workflow_id),
            },
        )


class WorkflowApi(Controller):
    path = "/api/workflows"
    tags = ["workflows"]

    @get(
        "/",
        responses={
            **_example(list[WorkflowSummary], "The workflows", [SUMMARY_EXAMPLE]),
            **error_responses(401, 503),
        },
    )
    async def list_workflows(
        self, definitions: NamedDependency[dict[str, WorkflowDefinition]]
    ) -> list[WorkflowSummary]:
        """The loaded workflow definitions (id, name, description, inputs, steps, ...) with
        `status` (active, paused, archived), `execution_count` and `last_executed_at`."""
        return await WorkflowCatalog(definitions).summaries()

    @post(
        "/{workflow_id:str}/run",
        status_code=202,
        guards=[requires(Role.APPROVER, STARTING)],
        responses=_started("Started: `trigger_data` is the input and `{{ trigger.* }}`"),
    )
    async def run_workflow(
        self,
        request: Request[User, Any, Any],
        workflow_id: str,
        data: Annotated[
            RunWorkflowRequest,
            Body(
                examples=[Example(summary="Onboard a customer", value={"trigger_data": ONBOARDING})]
            ),
        ],
        executions: NamedDependency[ExecutionService],
        live: NamedDependency[LiveUpdates],
        settings: NamedDependency[Settings],
    ) -> WorkflowStarted:
        """Start an execution (started via `run`): `trigger_data` is both its input and what
        its templates read as `trigger.*`. 202 with the execution's id."""
        start = (workflow_id, data.trigger_data, "run", data.trigger_data)
        return await start_for_api(request, executions, live, settings, start)


@get(
    "/api/workflows/{workflow_id:str}",
    tags=["workflows"],
    responses={
        **_example(WorkflowDetail, "The workflow", DETAIL_EXAMPLE),
        **error_responses(401, 404, 503),
    },
)
async def workflow_detail(
    request: Request[User, Any, Any],
    workflow_id: str,
    definitions: NamedDependency[dict[str, WorkflowDefinition]],
    settings: NamedDependency[Settings],
) -> WorkflowDetail:
    """One workflow: its definition, status, latest executions and triggers (a webhook with the
    URL to POST to, a schedule with its spec).

    A route handler of its own, not in a controller: Litestar 2.25 refuses a controller's route
    on a path another registration already has (their OPTIONS handlers clash), and DELETE of
    this path lives in the lifecycle API. The factory registers this one after controllers."""
    definition = definition_or_404(definitions, workflow_id)
    origin = f"{request.url.scheme}://{request.url.netloc}"
    return await WorkflowCatalog(definitions).detail(definition, origin, settings.path_prefix)


class SeedExecutionApi(Controller):
    """The seeds' start: `POST /executions/workflows/{workflow_id}/execute`."""

    path = "/executions/workflows"
    tags = ["executions"]

    @post(
        "/{workflow_id:str}/execute",
        status_code=202,
        guards=[requires(Role.APPROVER, STARTING)],
        responses=_started("Started: the timeline is at `timeline_url` (JSON with Accept)"),
    )
    async def execute_workflow(
        self,
        request: Request[User, Any, Any],
        workflow_id: str,
        data: Annotated[
            ExecuteWorkflowRequest,
            Body(
                examples=[Example(summary="Onboard a customer", value={"parameters": ONBOARDING})]
            ),
        ],
        executions: NamedDependency[ExecutionService],
        live: NamedDependency[LiveUpdates],
        settings: NamedDependency[Settings],
    ) -> WorkflowStarted:
        """Start an execution with `parameters` as its input (as `POST
        /api/workflows/executions/start` does). 202 with the execution's id and timeline URL."""
        start = (workflow_id, data.parameters, "api", None)
        return await start_for_api(request, executions, live, settings, start)
