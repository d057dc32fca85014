"""List pages: the overview (`/`) and the executions list with its filters."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Template

from app.services.executions import ExecutionService


class ListController(Controller):
    @get("/")
    async def home(self, executions: NamedDependency[ExecutionService]) -> Template:
        return Template(
            "home.html",
            context={
                "recent": await executions.recent(limit=10),
                "definitions": executions.definitions.values(),
            },
        )

    @get("/executions")
    async def execution_list(self, executions: NamedDependency[ExecutionService]) -> Template:
        return Template("executions.html", context={"recent": await executions.recent(limit=100)})
