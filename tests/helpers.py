"""Waiting on real state (never on sleeps) for tests that drive real executions, and the demo
data those tests share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType

from app.approvals.service import DecisionService
from app.db.tables import StepRun
from app.domain.approvals import Decision
from app.domain.identity import User
from app.executions.service import AlreadyFinished, ExecutionService, UnknownExecution
from app.temporal.contracts import DecisionOutcome, Timeline

# The demo data tests share with the benchmarks (tests may import bench/, never the reverse).
from bench.scenarios import (  # noqa: F401 — re-exported for the tests
    CRM_CONFIRMATIONS,
    DEFINITIONS,
    PREMIUM,
    automate_every_step,
)

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    timeout: float = 20.0,
    interval: float = 0.05,
) -> T:
    """Call `probe` until `until(result)` holds; fail with the last result after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last: {result!r}")
        await asyncio.sleep(interval)


class Engine(ExecutionService):
    """The execution service plus deciding as a signed-in user would (`DecisionService`, the
    decision built by `Decision.by`, source "web" unless said) — what most engine tests do.
    Its queries wait up to a minute for a worker (a worker process takes seconds to start),
    where the web's give up after seconds and read the records."""

    def __init__(self, *args: Any, rpc_timeout: float = 60.0, **kwargs: Any) -> None:
        super().__init__(*args, rpc_timeout=rpc_timeout, **kwargs)

    async def cancel(self, execution_id: str) -> None:
        """Cancel, as tests do to clean up: an execution that has already ended stays as it is
        (the app's cancel answers 409 for it)."""
        with suppress(AlreadyFinished):
            await super().cancel(execution_id)

    async def decide(
        self,
        execution_id: str,
        step_id: str,
        user: User,
        action: str,
        *,
        source: str = "web",
        **details: Any,
    ) -> DecisionOutcome:
        decision = Decision.by(user, step_id, action, source=source, **details)
        decisions = DecisionService(self.client, self.records, timeout=self.rpc_timeout)
        return await decisions.decide(execution_id, decision)


async def waiting_at(engine: ExecutionService, execution_id: str, step_id: str) -> Timeline:
    """The execution's timeline once `step_id` waits for approval. An execution Temporal does
    not know yet (a child its parent is still starting) is waited for like a step."""

    async def timeline() -> Timeline | None:
        try:
            return await engine.timeline(execution_id)
        except UnknownExecution:
            return None

    def is_waiting(t: Timeline | None) -> bool:
        return t is not None and any(
            s.id == step_id and s.status == "waiting_approval" for s in t.steps
        )

    found = await eventually(timeline, is_waiting)
    assert found is not None
    return found


async def finished(engine: ExecutionService, execution_id: str) -> Timeline:
    return await eventually(lambda: engine.timeline(execution_id), lambda t: t.finished)


async def records_flushed(
    engine: ExecutionService, execution_id: str, step_id: str = "create_crm_record"
) -> None:
    """Wait until the waiting step's record is in PostgreSQL and the workflow has nothing left
    to do by itself: its last workflow task completed (the history ends with
    WorkflowTaskCompleted, or with the markers of the local activities that task recorded) and
    no short timer (the records' flush timer) is still to fire — only the approval's timeout."""

    async def waiting_rows() -> int:
        rows = await StepRun.count().where(
            (StepRun.execution_id == execution_id)
            & (StepRun.step_id == step_id)
            & (StepRun.status == "waiting_approval")
        )
        return int(rows)

    async def settled() -> bool:
        handle = engine.client.get_workflow_handle(execution_id)
        history = [e async for e in handle.fetch_history_events()]
        short_timers = {
            e.event_id
            for e in history
            if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
            and e.timer_started_event_attributes.start_to_fire_timeout.ToSeconds() < 60
        }
        for e in history:
            if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
                short_timers.discard(e.timer_fired_event_attributes.started_event_id)
            elif e.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
                short_timers.discard(e.timer_canceled_event_attributes.started_event_id)
        quiet = {EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, EventType.EVENT_TYPE_MARKER_RECORDED}
        return not short_timers and history[-1].event_type in quiet

    await eventually(waiting_rows, bool)
    await eventually(settled, bool)
