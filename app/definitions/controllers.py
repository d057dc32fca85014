"""Workflow definitions over HTTP: `/workflows`, a workflow's page, and `GET /api/workflows/`."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Template

from app.definitions.lookup import definition_or_404
from app.definitions.schedules_control import ScheduleControl
from app.domain.definitions import WorkflowDefinition
from app.executions.service import ExecutionService
from app.web.errors import error_responses


class WorkflowPages(Controller):
    include_in_schema = False  # HTML pages: /schema documents the JSON API
    path = "/workflows"

    @get("/")
    async def workflows(
        self, definitions: NamedDependency[dict[str, WorkflowDefinition]]
    ) -> Template:
        return Template("workflows.html", context={"definitions": definitions.values()})

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

    @get("/", responses=error_responses(401))
    async def list_workflows(
        self, definitions: NamedDependency[dict[str, WorkflowDefinition]]
    ) -> list[WorkflowDefinition]:
        """The loaded workflow definitions with their input fields and steps."""
        return list(definitions.values())
