"""Temporal Schedules made from the definitions' `schedule` triggers, and their sync: Temporal
holds exactly the Schedules the files declare (created, updated, deleted)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from app.definitions.lifecycle import WorkflowLifecycle
from app.domain.definitions import WorkflowDefinition
from app.domain.schedule_words import (
    SCHEDULE_ID_PREFIX,
    WORKFLOW_ARCHIVE_NOTE,
    WORKFLOW_PAUSE_NOTE,
    schedule_id,
)
from app.domain.statuses import WorkflowState
from app.domain.triggers import ScheduleTrigger
from app.executions.service import ExecutionService
from app.temporal.contracts import ExecutionInput
from app.temporal.workflows import ExecutionWorkflow

log = structlog.stdlib.get_logger("stepladder.schedules")

# The action's memo key holding a digest of spec + policy + action: a changed digest → update.
DIGEST_KEY = "stepladder_digest"
TASK_QUEUE_KEY = "stepladder_task_queue"
OVERLAP = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "buffer_all": ScheduleOverlapPolicy.BUFFER_ALL,
    "cancel_other": ScheduleOverlapPolicy.CANCEL_OTHER,
    "terminate_other": ScheduleOverlapPolicy.TERMINATE_OTHER,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
}


@dataclass
class SyncReport:
    """What one sync did: Schedule ids created, updated (changed spec or action), deleted, and
    left as they were."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    """Refused by Temporal (e.g. a cron it cannot read): logged; the others still sync."""

    def summary(self) -> str:
        return ", ".join(f"{len(ids)} {name}" for name, ids in asdict(self).items())


def pause_note(state: WorkflowState) -> str:
    """The note a Schedule of a workflow in `state` is paused with ("" for an active one)."""
    return {
        WorkflowState.PAUSED: WORKFLOW_PAUSE_NOTE,
        WorkflowState.ARCHIVED: WORKFLOW_ARCHIVE_NOTE,
    }.get(state, "")


class ScheduleSync:
    """Makes Temporal's Schedules match the loaded definitions' `schedule` triggers.

    Ours are the Schedules whose id starts with `stepladder:` and whose action starts workflows
    on this task queue: sync creates the missing ones, updates those whose digest (kept in the
    action's memo) changed, deletes ours no longer in the files. A workflow paused or archived
    gets its Schedules paused (with the note of `pause_note`). Safe to run from several
    processes at once: a Schedule another process just created is updated instead.
    """

    def __init__(self, executions: ExecutionService, lifecycle: WorkflowLifecycle) -> None:
        self.executions = executions
        self.client = executions.client
        self.lifecycle = lifecycle

    def wanted(self) -> dict[str, tuple[WorkflowDefinition, ScheduleTrigger]]:
        """Schedule id → (definition, trigger) for every schedule trigger in the files."""
        return {
            schedule_id(definition.id, trigger.id): (definition, trigger)
            for definition in self.executions.definitions.values()
            for trigger in definition.schedules
        }

    def schedule(self, definition: WorkflowDefinition, trigger: ScheduleTrigger) -> Schedule:
        """The Temporal Schedule of `trigger` (state: running, unless the file says paused)."""
        task_queue = self.executions.task_queue
        start = ExecutionInput(
            execution_id="",  # Temporal's workflow id: the action id + the time (see identified)
            definition=definition,
            input=trigger.input,
            started_by=f"schedule:{trigger.id}",
            known_users=self.executions.known_users(),
            started_via="schedule",
            trigger=trigger.input,
        )
        digest = _digest(trigger, start, task_queue)
        return Schedule(
            action=ScheduleActionStartWorkflow(
                ExecutionWorkflow.run,
                start,
                id=f"{definition.id}-{trigger.id}",
                task_queue=task_queue,
                memo={DIGEST_KEY: digest, TASK_QUEUE_KEY: task_queue},
            ),
            spec=ScheduleSpec(
                cron_expressions=list(trigger.cron),
                intervals=[ScheduleIntervalSpec(every=timedelta(seconds=trigger.interval_seconds))]
                if trigger.interval_seconds
                else [],
                time_zone_name=trigger.time_zone,
            ),
            policy=SchedulePolicy(
                overlap=OVERLAP[trigger.overlap],
                catchup_window=timedelta(seconds=trigger.catchup_window_seconds),
            ),
            state=ScheduleState(paused=trigger.paused, note="paused in the definition file"
                                if trigger.paused else None),
        )  # fmt: skip

    async def sync(self) -> SyncReport:
        """Create, update and delete Schedules until Temporal matches the files. Raises
        RPCError (or RuntimeError while Temporal cannot be reached) for the caller to retry."""
        report = SyncReport()
        states = await self.lifecycle.states()
        wanted = self.wanted()
        for sid, (definition, trigger) in wanted.items():
            state = states[definition.id].state if definition.id in states else WorkflowState.ACTIVE
            try:
                outcome = await self._put(
                    sid, self.schedule(definition, trigger), pause_note(state)
                )
            except RPCError as exc:
                if exc.status != RPCStatusCode.INVALID_ARGUMENT:
                    raise
                log.error("schedule.refused", schedule_id=sid, error=exc.message)
                outcome = "failed"
            getattr(report, outcome).append(sid)
        async for listed in await self.client.list_schedules():
            stale = listed.id.startswith(SCHEDULE_ID_PREFIX) and listed.id not in wanted
            if stale and await self._delete_if_ours(listed.id):
                report.deleted.append(listed.id)
        log.info("schedules.synced", **{k: len(v) for k, v in asdict(report).items()})
        return report

    async def _put(self, sid: str, schedule: Schedule, paused_note: str) -> str:
        """Create the Schedule, or update it when its digest changed: "created", "updated" or
        "unchanged". A paused Schedule stays paused (its note kept); `paused_note` pauses it."""
        if paused_note:
            schedule.state = ScheduleState(paused=True, note=paused_note)
        try:
            await self.client.create_schedule(
                sid, schedule, memo={TASK_QUEUE_KEY: _queue(schedule)}
            )
            log.info("schedule.created", schedule_id=sid)
            return "created"
        except ScheduleAlreadyRunningError:
            pass  # it exists (maybe another process just made it): update it if it changed
        changed = False

        async def update(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
            nonlocal changed
            now = current.description.schedule
            if _action_digest(now, current) == _action_digest(schedule, None) and not (
                paused_note and not now.state.paused
            ):
                return None
            changed = True
            state = now.state
            if paused_note and not state.paused:
                state = ScheduleState(paused=True, note=paused_note)
            return ScheduleUpdate(schedule=Schedule(action=schedule.action, spec=schedule.spec,
                                                    policy=schedule.policy, state=state))  # fmt: skip

        await _retry_conflict(lambda: self.client.get_schedule_handle(sid).update(update))
        if changed:
            log.info("schedule.updated", schedule_id=sid)
        return "updated" if changed else "unchanged"

    async def _delete_if_ours(self, sid: str) -> bool:
        """Delete a `stepladder:` Schedule starting workflows on this task queue (another
        installation on the namespace with its own task queue keeps its own)."""
        handle = self.client.get_schedule_handle(sid)
        try:
            described = await handle.describe()
            if _queue(described.schedule) != self.executions.task_queue:
                return False
            await handle.delete()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:  # deleted by another process meanwhile
                return False
            raise
        log.info("schedule.deleted", schedule_id=sid)
        return True


def _queue(schedule: Schedule) -> str:
    action = schedule.action
    return action.task_queue if isinstance(action, ScheduleActionStartWorkflow) else ""


def _action_digest(schedule: Schedule, current: ScheduleUpdateInput | None) -> str:
    """The digest in a Schedule action's memo (decoded when it came from Temporal)."""
    action = schedule.action
    if not isinstance(action, ScheduleActionStartWorkflow) or not action.memo:
        return ""
    value = action.memo.get(DIGEST_KEY)
    if current is not None and value is not None and not isinstance(value, str):
        converter = current.description.data_converter.payload_converter
        return str(converter.from_payload(value, str))
    return str(value or "")


def _digest(trigger: ScheduleTrigger, start: ExecutionInput, task_queue: str) -> str:
    """A digest of everything a Schedule is made of (spec, policy, the start's input)."""
    content = {
        "trigger": asdict(trigger),
        "definition": start.definition.version_hash,
        "input": start.input,
        "users": {name: asdict(user) for name, user in (start.known_users or {}).items()},
        "task_queue": task_queue,
    }
    canonical = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


async def _retry_conflict(call: Callable[[], Any], attempts: int = 5) -> None:
    """An update racing another process's (conflict token moved on): describe and try again."""
    for attempt in range(attempts):
        try:
            await call()
            return
        except RPCError as exc:
            if exc.status != RPCStatusCode.FAILED_PRECONDITION or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.1 * (attempt + 1))


async def keep_syncing(
    sync: ScheduleSync, first_wait: float = 1.0, longest_wait: float = 30.0
) -> None:
    """Sync until one sync succeeds, waiting longer after each failure (Temporal or PostgreSQL
    down at start-up): meant as a background task, so an outage never holds up a start."""
    wait = first_wait
    while True:
        try:
            await sync.sync()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 — any failure is retried; the line says which
            log.warning("schedules.sync_failed", error=str(exc).splitlines()[0] if str(exc)
                        else type(exc).__name__, retry_in=wait)  # fmt: skip
            await asyncio.sleep(wait)
            wait = min(wait * 2, longest_wait)
