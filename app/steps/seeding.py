"""Step configurations seeded from the definitions (by `migrate`, and for a step added since)."""

from __future__ import annotations

from collections.abc import Iterable

from app.db import step_configs
from app.domain.definitions import WorkflowDefinition


async def seed_step_configs(definitions: Iterable[WorkflowDefinition]) -> int:
    """Insert a configuration for every step that has none yet (impact and default mode from the
    definition); existing rows, which admins and promotions change, are left alone. Returns how
    many were added."""
    return await step_configs.seed(definitions)
