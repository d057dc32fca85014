"""The schedules JSON API: a workflow's Schedules, and pause, resume, trigger-now of one."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example

from app.definitions.schedules_control import ScheduleControl, ScheduleMissing
from app.definitions.schedules_schemas import ScheduleActed, ScheduleView
from app.domain.identity import Role, User
from app.web.errors import error_responses
from app.web.guards import requires

T = TypeVar("T")
PAUSING = "Pausing or resuming a schedule"
TRIGGERING = "Running a schedule now"

ACTED_EXAMPLE = {
    "workflow_id": "customer_onboarding",
    "trigger_id": "nightly",
    "schedule_id": "stepladder:customer_onboarding:nightly",
    "action": "paused",
    "state": "paused",
}
VIEW_EXAMPLE = {
    "trigger_id": "nightly",
    "schedule_id": "stepladder:customer_onboarding:nightly",
    "spec": "cron 0 2 * * * (Europe/Paris)",
    "cron": ["0 2 * * *"],
    "interval_seconds": 0,
    "time_zone": "Europe/Paris",
    "overlap": "skip",
    "catchup_window_seconds": 300,
    "input": {"name": "Nightly check", "email": "ops@example.com", "tier": "basic"},
    "state": "running",
    "note": "",
    "next_runs": ["2026-12-01T02:00:00+01:00"],
    "recent_runs": [
        {
            "execution_id": "customer_onboarding-nightly-2026-11-30T01:00:00Z",
            "scheduled_at": "2026-11-30T02:00:00+01:00",
            "started_at": "2026-11-30T02:00:00.012+01:00",
            "url": "/executions/customer_onboarding-nightly-2026-11-30T01:00:00Z",
        }
    ],
}


def acted_responses(*codes: int) -> dict[int, ResponseSpec]:
    """The OpenAPI responses of an act on a Schedule: the answer with an example, and errors."""
    example = Example(summary="A paused schedule", value=ACTED_EXAMPLE)
    return {
        200: ResponseSpec(ScheduleActed, description="What was done", examples=[example]),
        **error_responses(*codes),
    }


async def answered(call: Awaitable[T]) -> T:
    """A ScheduleControl call with its refusals as HTTP errors: an unknown workflow or trigger
    404, a Schedule not in Temporal yet 409 (a paused workflow's 409 is the app's handler's)."""
    try:
        return await call
    except ScheduleMissing as exc:
        raise ClientException(str(exc), status_code=409) from None
    except LookupError as exc:
        raise NotFoundException(str(exc)) from None


class ScheduleApi(Controller):
    path = "/api/workflows/{workflow_id:str}/schedules"
    tags = ["schedules"]

    @get(
        "/",
        responses={
            200: ResponseSpec(
                list[ScheduleView],
                description="The workflow's schedule triggers with their state",
                examples=[Example(summary="One nightly schedule", value=[VIEW_EXAMPLE])],
            ),
            **error_responses(401, 404, 503),
        },
    )
    async def list_schedules(
        self, workflow_id: str, schedule_control: NamedDependency[ScheduleControl]
    ) -> list[ScheduleView]:
        """Each `schedule` trigger of the workflow: spec (in words and as keys), state
        (running, paused, or missing until the sync creates it), next runs in its time zone and
        recent runs linking their executions."""
        return await answered(schedule_control.views(workflow_id))

    @post(
        "/{trigger_id:str}/pause",
        status_code=200,
        guards=[requires(Role.ADMIN, PAUSING)],
        responses=acted_responses(401, 403, 404, 409, 503),
    )
    async def pause_schedule(
        self,
        workflow_id: str,
        trigger_id: str,
        request: Request[User, Any, Any],
        schedule_control: NamedDependency[ScheduleControl],
    ) -> ScheduleActed:
        """Pause one Schedule: it starts nothing until resumed (an admin's act)."""
        return await answered(schedule_control.pause(workflow_id, trigger_id, request.user.name))

    @post(
        "/{trigger_id:str}/resume",
        status_code=200,
        guards=[requires(Role.ADMIN, PAUSING)],
        responses=acted_responses(401, 403, 404, 409, 503),
    )
    async def resume_schedule(
        self,
        workflow_id: str,
        trigger_id: str,
        request: Request[User, Any, Any],
        schedule_control: NamedDependency[ScheduleControl],
    ) -> ScheduleActed:
        """Resume a paused Schedule; 409 while the workflow itself is paused or archived."""
        return await answered(schedule_control.resume(workflow_id, trigger_id, request.user.name))

    @post(
        "/{trigger_id:str}/trigger",
        status_code=200,
        guards=[requires(Role.APPROVER, TRIGGERING)],
        responses=acted_responses(401, 403, 404, 409, 503),
    )
    async def trigger_schedule(
        self, workflow_id: str, trigger_id: str, schedule_control: NamedDependency[ScheduleControl]
    ) -> ScheduleActed:
        """Start one run of the Schedule now (its overlap policy applies); an approver's act,
        like starting from the form. 409 while the workflow is paused or archived."""
        return await answered(schedule_control.trigger_now(workflow_id, trigger_id))
