"""Pausing, resuming and triggering a workflow's Schedules, reading their state, and the workflow
lifecycle (pause, resume, archive) with what it does to the Schedules."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from temporalio.client import (
    ScheduleActionExecutionStartWorkflow,
    ScheduleDescription,
    ScheduleHandle,
)
from temporalio.service import RPCError, RPCStatusCode

from app.definitions.lifecycle import WorkflowLifecycle
from app.definitions.schedules import pause_note
from app.definitions.schedules_schemas import (
    ScheduleActed,
    ScheduleRun,
    ScheduleView,
    WorkflowStateView,
)
from app.domain.availability import ServiceUnavailable
from app.domain.schedule_words import WORKFLOW_PAUSE_NOTE, schedule_id, schedule_in_words
from app.domain.statuses import WorkflowState
from app.domain.triggers import ScheduleTrigger
from app.executions.service import EngineSilent, ExecutionService, within

T = TypeVar("T")


class UnknownSchedule(LookupError):
    """No `schedule` trigger of that id in the workflow's definition (HTTP 404)."""


class ScheduleMissing(LookupError):
    """The trigger is in the file but its Schedule is not in Temporal yet (sync pending; 409)."""


class ScheduleControl:
    """A workflow's Schedules as people act on them. Temporal calls get the execution service's
    deadline: unreachable → ServiceUnavailable (503)."""

    def __init__(
        self, executions: ExecutionService, lifecycle: WorkflowLifecycle, path_prefix: str = ""
    ) -> None:
        self.executions = executions
        self.lifecycle = lifecycle
        self.path_prefix = path_prefix

    def trigger(self, workflow_id: str, trigger_id: str) -> ScheduleTrigger:
        """The schedule trigger; raises UnknownWorkflow or UnknownSchedule."""
        for trigger in self.executions.definition(workflow_id).schedules:
            if trigger.id == trigger_id:
                return trigger
        raise UnknownSchedule(f"workflow {workflow_id!r} has no schedule trigger {trigger_id!r}")

    async def views(self, workflow_id: str) -> list[ScheduleView]:
        """Every schedule trigger of the workflow with its state, next and recent runs."""
        definition = self.executions.definition(workflow_id)
        return [await self._view(workflow_id, trigger) for trigger in definition.schedules]

    async def page_context(self, workflow_id: str) -> dict[str, Any]:
        """What the workflow page shows of its lifecycle and Schedules: `lifecycle` (the state
        record: who, why, since when), `schedules` (views) and `schedules_unavailable` (why
        they cannot be shown now: Temporal not answering; "" otherwise)."""
        lifecycle = await self.lifecycle.state(workflow_id)
        try:
            schedules, unavailable = await self.views(workflow_id), ""
        except ServiceUnavailable as exc:
            schedules, unavailable = [], f"Temporal is not answering ({exc.reason})"
        return {"lifecycle": lifecycle, "schedules": schedules,
                "schedules_unavailable": unavailable}  # fmt: skip

    async def pause(self, workflow_id: str, trigger_id: str, by: str) -> ScheduleActed:
        """Pause one Schedule (its note says who paused it)."""
        sid = schedule_id(workflow_id, self.trigger(workflow_id, trigger_id).id)
        await self._call(sid, self._handle(sid).pause(note=f"paused by {by}"))
        return ScheduleActed(workflow_id, trigger_id, sid, "paused", "paused")

    async def resume(self, workflow_id: str, trigger_id: str, by: str) -> ScheduleActed:
        """Unpause one Schedule; refused (WorkflowNotAccepting, 409) while the workflow is
        paused or archived: resume the workflow instead."""
        sid = schedule_id(workflow_id, self.trigger(workflow_id, trigger_id).id)
        await self.lifecycle.check_accepting(workflow_id)
        await self._call(sid, self._handle(sid).unpause(note=f"resumed by {by}"))
        return ScheduleActed(workflow_id, trigger_id, sid, "resumed", "running")

    async def trigger_now(self, workflow_id: str, trigger_id: str) -> ScheduleActed:
        """Start one run now (the Schedule's overlap policy applies; a paused Schedule runs
        too); refused (409) while the workflow is paused or archived."""
        sid = schedule_id(workflow_id, self.trigger(workflow_id, trigger_id).id)
        await self.lifecycle.check_accepting(workflow_id)
        await self._call(sid, self._handle(sid).trigger())
        described = await self._call(sid, self._handle(sid).describe())
        state = "paused" if described.schedule.state.paused else "running"
        return ScheduleActed(workflow_id, trigger_id, sid, "triggered", state)

    async def set_workflow_state(
        self, workflow_id: str, state: WorkflowState, by: str, reason: str = ""
    ) -> WorkflowStateView:
        """Pause, resume or archive the workflow, and its Schedules with it: pausing (or
        archiving) pauses the running ones with a note saying so; resuming unpauses exactly
        those (one an admin paused by itself stays paused). Raises WorkflowNotAccepting when
        resuming an archived workflow."""
        definition = self.executions.definition(workflow_id)
        record = await self.lifecycle.set_state(workflow_id, state, by, reason)
        touched = []
        for trigger in definition.schedules:
            sid = schedule_id(workflow_id, trigger.id)
            if await self._follow_workflow(sid, state):
                touched.append(sid)
        return WorkflowStateView(workflow_id, record.state, record.changed_by, record.reason,
                                 record.changed_at, touched)  # fmt: skip

    async def _follow_workflow(self, sid: str, state: WorkflowState) -> bool:
        """Pause or unpause one Schedule as the workflow's new state asks; whether it changed."""
        try:
            described = await self._call(sid, self._handle(sid).describe())
        except ScheduleMissing:
            return False  # the next sync creates it in the workflow's state
        current = described.schedule.state
        if state is WorkflowState.ACTIVE:
            if not current.paused or current.note not in (WORKFLOW_PAUSE_NOTE, None, ""):
                return False
            await self._call(sid, self._handle(sid).unpause(note="resumed with the workflow"))
            return True
        if current.paused and current.note != WORKFLOW_PAUSE_NOTE:
            return False  # paused by someone (or archived already): keep it as it is
        await self._call(sid, self._handle(sid).pause(note=pause_note(state)))
        return True

    async def _view(self, workflow_id: str, trigger: ScheduleTrigger) -> ScheduleView:
        sid = schedule_id(workflow_id, trigger.id)
        view = ScheduleView(
            trigger_id=trigger.id, schedule_id=sid, spec=schedule_in_words(trigger),
            cron=trigger.cron, interval_seconds=trigger.interval_seconds,
            time_zone=trigger.time_zone, overlap=trigger.overlap,
            catchup_window_seconds=trigger.catchup_window_seconds, input=trigger.input,
            state="missing",
        )  # fmt: skip
        try:
            described = await self._call(sid, self._handle(sid).describe())
        except ScheduleMissing:
            return view
        view.state = "paused" if described.schedule.state.paused else "running"
        view.note = described.schedule.state.note or ""
        zone = _zone(trigger.time_zone)
        view.next_runs = [t.astimezone(zone) for t in described.info.next_action_times[:5]]
        view.recent_runs = self._runs(described, zone)
        return view

    def _runs(self, described: ScheduleDescription, zone: ZoneInfo) -> list[ScheduleRun]:
        runs = []
        for result in reversed(described.info.recent_actions):
            action = result.action
            if isinstance(action, ScheduleActionExecutionStartWorkflow):
                runs.append(ScheduleRun(
                    execution_id=action.workflow_id,
                    scheduled_at=result.scheduled_at.astimezone(zone),
                    started_at=result.started_at.astimezone(zone),
                    url=f"{self.path_prefix}/executions/{action.workflow_id}",
                ))  # fmt: skip
        return runs

    def _handle(self, sid: str) -> ScheduleHandle:
        return self.executions.client.get_schedule_handle(sid)

    async def _call(self, sid: str, call: Awaitable[T]) -> T:
        """A Temporal call on Schedule `sid`: NOT_FOUND → ScheduleMissing; unreachable or
        unanswered → ServiceUnavailable."""
        try:
            return await within(self.executions.client, self.executions.rpc_timeout, call)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise ScheduleMissing(
                    f"schedule {sid!r} is not in Temporal yet (the sync creates it)"
                ) from None
            raise
        except EngineSilent as exc:
            raise ServiceUnavailable("temporal", str(exc)) from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
