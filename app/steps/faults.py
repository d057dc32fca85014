"""Fault injection: a share of a step's runs made to fail on purpose (for `stepladder simulate`)."""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

from app.db import step_configs
from app.domain.definitions import WorkflowDefinition
from app.steps.configuration import InvalidStepConfig, settings_of

log = logging.getLogger("stepladder.promotions")


async def set_fault(
    definition: WorkflowDefinition, step_id: str, failure_rate: float, user: str
) -> None:
    """Make the step's action fail on purpose at `failure_rate` (0-1) until cleared."""
    await settings_of(definition, step_id)
    if not (0.0 <= failure_rate <= 1.0) or math.isnan(failure_rate):
        raise InvalidStepConfig(
            {"failure_rate": f"failure_rate must be between 0 and 1, got {failure_rate!r}"}
        )
    await step_configs.set_fault(definition.id, step_id, failure_rate, user, datetime.now(UTC))
    log.warning(
        "fault injection: %s/%s fails %.0f%% of runs (set by %s)",
        definition.id, step_id, failure_rate * 100, user,
    )  # fmt: skip


async def clear_fault(definition: WorkflowDefinition, step_id: str) -> None:
    await settings_of(definition, step_id)
    await step_configs.clear_fault(definition.id, step_id)
