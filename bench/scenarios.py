"""The demo set-ups benchmarks run: the definitions, steps made automatic, waiting for a step."""

from __future__ import annotations

import asyncio
import time

from app.db.tables import StepConfig
from app.definitions.loader import load_definitions
from app.domain.definitions import WorkflowDefinition
from app.domain.modes import PROMOTION_PATH, DeploymentMode, ImpactLevel
from app.domain.statuses import StepStatus
from app.executions.service import ExecutionService
from app.settings import REPO_ROOT
from app.steps.seeding import seed_step_configs
from app.temporal.actions import ACTION_NAMES
from app.temporal.contracts import Timeline

DEFINITIONS = load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)
PREMIUM = {"name": "John Doe", "email": "john@example.com", "tier": "premium"}
# What Create CRM Record asks of a premium customer before it may be approved.
CRM_CONFIRMATIONS = [
    "I have reviewed the customer data",
    "I confirm this is for PRODUCTION",
    "I have approval for credit limit >$1,000",
]


async def set_mode(definition: WorkflowDefinition, step_id: str, mode: DeploymentMode) -> None:
    """Put one step in `mode` for the executions started from now on."""
    await StepConfig.update({StepConfig.mode: mode.value}).where(
        (StepConfig.workflow_id == definition.id) & (StepConfig.step_id == step_id)
    )


async def automate_every_step(definition: WorkflowDefinition) -> None:
    """Every step at the most automatic mode its impact allows (critical: auto_monitored)."""
    await seed_step_configs([definition])
    for step in definition.steps:
        await set_mode(definition, step.id, PROMOTION_PATH[ImpactLevel(step.impact)][-1])


async def waiting_at(
    service: ExecutionService, execution_id: str, step_id: str, timeout: float = 30
) -> Timeline:
    """The timeline once `step_id` waits for approval."""
    deadline = time.monotonic() + timeout
    while True:
        timeline = await service.timeline(execution_id)
        if any(s.id == step_id and s.status == StepStatus.WAITING_APPROVAL for s in timeline.steps):
            return timeline
        if time.monotonic() > deadline:
            raise TimeoutError(f"{step_id} of {execution_id} not waiting after {timeout:.0f}s")
        await asyncio.sleep(0.05)
