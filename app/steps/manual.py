"""An admin's promotion or demotion of a step by hand, whatever its criteria say."""

from __future__ import annotations

from datetime import UTC, datetime

from app.db import step_configs
from app.domain.definitions import WorkflowDefinition
from app.domain.promotion import ModeChange, manual_change, manual_target
from app.domain.step_config import StepSettings
from app.steps.configuration import locked_settings, saved_settings
from app.steps.promotion import move_mode


async def change_mode(
    definition: WorkflowDefinition,
    step_id: str,
    user: str,
    *,
    to_mode: str = "",
    reason: str = "",
    direction: str = "promote",
) -> tuple[ModeChange, StepSettings]:
    """To `to_mode`, or one hop along the path in `direction` ("promote" or "demote"). Raises
    ModeChangeRefused when the path does not allow it, UnknownStep for a step not defined."""
    now = datetime.now(UTC)
    async with step_configs.transaction():
        current = await locked_settings(definition, step_id)
        target = manual_target(current.impact, current.mode, to_mode, direction)
        word = "promoted" if direction == "promote" else "demoted"
        change = manual_change(
            current.mode, current.impact, target, reason or f"{word} by {user} by hand"
        )
        await move_mode(current, change, kind="manual", changed_by=user, now=now)
        return change, await saved_settings(definition, step_id)
