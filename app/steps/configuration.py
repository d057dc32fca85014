"""Admins' configuration of steps: reading every step's settings and saving a version-checked
edit (a new mode goes through the promotion module's audited move)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from app.db import step_configs
from app.domain.definitions import WorkflowDefinition
from app.domain.modes import DeploymentMode, ImpactLevel
from app.domain.promotion import manual_change
from app.domain.step_config import StepConfigEdit, StepSettings, edit_problems
from app.steps.promotion import move_mode

AUTOMATIC_ACTORS = ("promotion", "demotion")


class UnknownStep(LookupError):
    def __init__(self, workflow_id: str, step_id: str) -> None:
        super().__init__(f"workflow {workflow_id!r} has no step {step_id!r}")


class InvalidStepConfig(ValueError):
    """An edit that cannot be saved; `errors` maps each form field to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


class EditConflict(RuntimeError):
    """The step changed since the editor loaded it (`version` moved on); `current` is what is
    saved now, so the editor can compare before saving again."""

    def __init__(self, current: StepSettings) -> None:
        self.current = current
        who = current.updated_by or "someone"
        if who in AUTOMATIC_ACTORS:
            doing = f"an automatic {who} changed this step"
        else:
            doing = f"{who} changed this step"
        super().__init__(f"{doing} while you were editing; here are the current values")


async def load_settings(definition: WorkflowDefinition) -> dict[str, StepSettings]:
    """Every step's settings, in definition order; a step added since `migrate` gets its row."""
    by_step = await step_configs.read_workflow(definition.id)
    if any(step.id not in by_step for step in definition.steps):  # seed only when one is missing
        await step_configs.seed([definition])
        by_step = await step_configs.read_workflow(definition.id)
    return {step.id: by_step[step.id] for step in definition.steps if step.id in by_step}


async def settings_of(definition: WorkflowDefinition, step_id: str) -> StepSettings:
    """One step's settings; raises UnknownStep when the definition has no such step."""
    settings = (await load_settings(definition)).get(step_id)
    if settings is None:
        raise UnknownStep(definition.id, step_id)
    return settings


async def locked_settings(definition: WorkflowDefinition, step_id: str) -> StepSettings:
    """One step's settings with its row locked until the caller's transaction ends."""
    await settings_of(definition, step_id)
    current = await step_configs.read(definition.id, step_id, lock=True)
    assert current is not None  # settings_of created the row
    return current


async def saved_settings(definition: WorkflowDefinition, step_id: str) -> StepSettings:
    saved = await step_configs.read(definition.id, step_id)
    assert saved is not None
    return saved


async def save_config(
    definition: WorkflowDefinition, step_id: str, edit: StepConfigEdit, user: str
) -> StepSettings:
    """Save an admin's edit of one step. Raises EditConflict when the step changed since the
    admin loaded it, InvalidStepConfig for values out of range or a mode off the impact's path.
    A new mode restarts the counters and is audited as a manual change with its reason."""
    now = datetime.now(UTC)
    async with step_configs.transaction():
        current = await locked_settings(definition, step_id)
        if edit.version != current.version:
            raise EditConflict(current)
        errors = edit_problems(edit, current)
        if errors:
            raise InvalidStepConfig(errors)
        impact, mode = ImpactLevel(edit.impact), DeploymentMode(edit.mode)
        unchanged = (impact, mode, edit.auto_promote, edit.overrides) == (
            current.impact, current.mode, current.auto_promote, current.overrides
        )  # fmt: skip
        if unchanged:
            return current
        await step_configs.update(
            definition.id, step_id, impact=impact, auto_promote=edit.auto_promote,
            overrides=edit.overrides, updated_by=user,
        )  # fmt: skip
        if mode is not current.mode:
            change = manual_change(current.mode, impact, mode, edit.reason)
            await move_mode(current, change, kind="manual", changed_by=user, now=now)
        return await saved_settings(definition, step_id)
