"""List pages: the overview (`/`), the filtered executions list and the approvals inbox."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from app.approvals.inbox import for_user
from app.domain.identity import User
from app.executions.listing import (
    EXECUTION_STATUSES,
    ExecutionFilter,
    list_executions,
    recent_outcomes,
)
from app.executions.service import ExecutionService
from app.live.hub import LiveUpdates


def _swaps(request: Request[Any, Any, Any], target: str) -> bool:
    """An htmx request that replaces only `target` (not a history restore, which needs a page)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-target") == target
        and request.headers.get("hx-history-restore-request") != "true"
    )


class ListController(Controller):
    @get("/")
    async def home(
        self,
        request: Request[User, Any, Any],
        executions: NamedDependency[ExecutionService],
        live: NamedDependency[LiveUpdates],
    ) -> Template:
        return Template(
            "home.html",
            context={
                "running": await list_executions(ExecutionFilter(status="running"), limit=20),
                "approvals": for_user(await live.inbox.snapshot(), request.user),
                "outcomes": await recent_outcomes(limit=10),
                "definitions": executions.definitions.values(),
            },
        )

    @get("/executions")
    async def execution_list(
        self,
        request: Request[User, Any, Any],
        executions: NamedDependency[ExecutionService],
        status: str = "",
        workflow: str = "",
        waiting: str = "",
    ) -> Template:
        filters = ExecutionFilter(
            status=status if status in EXECUTION_STATUSES else "",
            workflow_id=workflow if workflow in executions.definitions else "",
            waiting=waiting in ("1", "on", "true"),
        )
        rows = await list_executions(filters, limit=100)
        context = {
            "recent": rows,
            "filters": filters,
            "statuses": EXECUTION_STATUSES,
            "definitions": executions.definitions.values(),
        }
        if _swaps(request, "execution-rows"):
            return Template("_execution_rows.html", context=context)
        return Template("executions.html", context=context)

    @get("/approvals")
    async def approvals(
        self, request: Request[User, Any, Any], live: NamedDependency[LiveUpdates]
    ) -> Template:
        items = for_user(await live.inbox.snapshot(), request.user)
        return Template("approvals.html", context={"items": items})
