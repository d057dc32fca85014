"""Step configurations in PostgreSQL: seeded from the definitions, read when a step is reached."""

from __future__ import annotations

from collections.abc import Iterable

from app.db.tables import StepConfig
from app.domain.definitions import WorkflowDefinition


async def seed_step_configs(definitions: Iterable[WorkflowDefinition]) -> int:
    """Insert a configuration for every step that has none yet (impact and default mode from the
    definition); existing rows, which admins and promotions change, are left alone."""
    added = 0
    for definition in definitions:
        for step in definition.steps:
            rows = await StepConfig.raw(
                "INSERT INTO step_configs (workflow_id, step_id, impact, mode) "
                "VALUES ({}, {}, {}, {}) ON CONFLICT (workflow_id, step_id) DO NOTHING "
                "RETURNING id",
                definition.id, step.id, step.impact, step.default_mode.value,
            )  # fmt: skip
            added += len(rows)
    return added
