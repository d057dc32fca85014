"""Waiting on real state (never on sleeps) for tests that drive real executions, and the demo
data those tests share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from app.approvals.service import DecisionService
from app.db.tables import StepConfig
from app.definitions.loader import load_definitions
from app.domain.approvals import Decision
from app.domain.definitions import WorkflowDefinition
from app.domain.identity import User
from app.domain.modes import PROMOTION_PATH, ImpactLevel
from app.executions.service import ExecutionService
from app.settings import REPO_ROOT
from app.steps.seeding import seed_step_configs
from app.temporal.actions import ACTION_NAMES
from app.temporal.contracts import DecisionOutcome, Timeline

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
    decision built by `Decision.by`, source "web" unless said) — what most engine tests do."""

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
        return await DecisionService(self.client, self.records).decide(execution_id, decision)


DEFINITIONS = load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)
PREMIUM = {"name": "John Doe", "email": "john@example.com", "tier": "premium"}
CRM_CONFIRMATIONS = [
    "I have reviewed the customer data",
    "I confirm this is for PRODUCTION",
    "I have approval for credit limit >$1,000",
]


async def waiting_at(engine: ExecutionService, execution_id: str, step_id: str) -> Timeline:
    def is_waiting(t: Timeline) -> bool:
        return any(s.id == step_id and s.status == "waiting_approval" for s in t.steps)

    return await eventually(lambda: engine.timeline(execution_id), is_waiting)


async def finished(engine: ExecutionService, execution_id: str) -> Timeline:
    return await eventually(lambda: engine.timeline(execution_id), lambda t: t.finished)


async def automate_every_step(definition: WorkflowDefinition) -> None:
    """Every step at the most automatic mode its impact allows (critical: auto_monitored), so
    tests about other things run without approvals."""
    await seed_step_configs([definition])
    for s in definition.steps:
        ceiling = PROMOTION_PATH[ImpactLevel(s.impact)][-1]
        await StepConfig.update({StepConfig.mode: ceiling.value}).where(
            (StepConfig.workflow_id == definition.id) & (StepConfig.step_id == s.id)
        )
