"""The workflow page's forms for its Schedules (pause, resume, run now) and its lifecycle
(pause, resume, archive): plain forms that post and redirect back to the page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from app.definitions.schedules_api import PAUSING, TRIGGERING, answered
from app.definitions.schedules_control import ScheduleControl
from app.domain.identity import Role, User
from app.domain.statuses import WorkflowState
from app.settings import Settings
from app.web.embedding import base_path
from app.web.forms import FormData
from app.web.guards import requires

CHANGING = "Pausing, resuming or archiving a workflow"
STATES = {"pause": WorkflowState.PAUSED, "resume": WorkflowState.ACTIVE,
          "archive": WorkflowState.ARCHIVED}  # fmt: skip


def back_to(request: Request[Any, Any, Any], settings: Settings, workflow_id: str) -> Redirect:
    return Redirect(f"{base_path(request, settings)}/workflows/{workflow_id}", status_code=303)


class ScheduleFormPages(Controller):
    include_in_schema = False  # HTML forms: /schema documents the JSON API
    path = "/workflows/{workflow_id:str}"

    @post("/schedules/{trigger_id:str}/pause", guards=[requires(Role.ADMIN, PAUSING)])
    async def pause_schedule(
        self,
        request: Request[User, Any, Any],
        workflow_id: str,
        trigger_id: str,
        schedule_control: NamedDependency[ScheduleControl],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        await answered(schedule_control.pause(workflow_id, trigger_id, request.user.name))
        return back_to(request, settings, workflow_id)

    @post("/schedules/{trigger_id:str}/resume", guards=[requires(Role.ADMIN, PAUSING)])
    async def resume_schedule(
        self,
        request: Request[User, Any, Any],
        workflow_id: str,
        trigger_id: str,
        schedule_control: NamedDependency[ScheduleControl],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        await answered(schedule_control.resume(workflow_id, trigger_id, request.user.name))
        return back_to(request, settings, workflow_id)

    @post("/schedules/{trigger_id:str}/trigger", guards=[requires(Role.APPROVER, TRIGGERING)])
    async def trigger_schedule(
        self,
        request: Request[User, Any, Any],
        workflow_id: str,
        trigger_id: str,
        schedule_control: NamedDependency[ScheduleControl],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        await answered(schedule_control.trigger_now(workflow_id, trigger_id))
        return back_to(request, settings, workflow_id)

    @post("/lifecycle/{change:str}", guards=[requires(Role.ADMIN, CHANGING)])
    async def change_state(
        self,
        request: Request[User, Any, Any],
        workflow_id: str,
        change: str,
        schedule_control: NamedDependency[ScheduleControl],
        settings: NamedDependency[Settings],
        data: FormData,
    ) -> Redirect:
        """`change`: pause, resume or archive; the form's `reason` is kept with the state."""
        state = STATES.get(change)
        if state is None:
            raise NotFoundException(f"no lifecycle change {change!r}: pause, resume or archive")
        reason = (data.get("reason") or "").strip()
        await answered(
            schedule_control.set_workflow_state(workflow_id, state, request.user.name, reason)
        )
        return back_to(request, settings, workflow_id)
