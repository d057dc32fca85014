"""Moving a step between modes: the automatic promotion or demotion judged after every recorded
outcome, and the audited move every change (automatic or by hand) goes through."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog

from app.db import step_configs
from app.domain.promotion import ModeChange, StepMetrics, change_snapshot, decide_mode_change
from app.domain.step_config import StepSettings

log = structlog.stdlib.get_logger("stepladder.promotions")


async def move_mode(
    settings: StepSettings,
    change: ModeChange,
    *,
    kind: str,
    changed_by: str,
    metrics: StepMetrics | None = None,
    now: datetime,
) -> None:
    """Move the step to `change.to_mode` (restarting its counters) and write the audit event
    with `metrics`, its record in the mode it leaves (read here when not given); the caller
    holds the row lock inside a transaction."""
    if metrics is None:
        metrics = await step_configs.record_in_mode(settings, now)
    await step_configs.write_mode_change(
        settings, change, kind=kind, changed_by=changed_by,
        snapshot=change_snapshot(metrics, settings.criteria), now=now,
    )  # fmt: skip
    log.info(
        "step.mode_changed", workflow_id=settings.workflow_id, step_id=settings.step_id,
        kind=kind, from_mode=str(change.from_mode), to_mode=str(change.to_mode),
        changed_by=changed_by, reason=change.reason,
    )  # fmt: skip


async def evaluate_after_outcome(
    workflow_id: str, step_id: str, now: datetime | None = None
) -> ModeChange | None:
    """Promote or demote the step if its record in the current mode says so; called after every
    recorded outcome. Safe to repeat: the row is locked while deciding, and a change restarts the
    counters, so a second call (a retried activity, a concurrent run) finds nothing to do."""
    now = now or datetime.now(UTC)
    async with step_configs.transaction():
        try:
            settings = await step_configs.read(workflow_id, step_id, lock=True)
        except ValueError as exc:
            # A hand-edited row with an unknown mode or impact: the engine falls back to the
            # definition's default; retrying this activity forever would stall the execution.
            log.warning(
                "step.not_evaluated", workflow_id=workflow_id, step_id=step_id, error=str(exc)
            )
            return None
        if settings is None:
            return None  # not configured: it runs in its definition's default mode
        metrics = await step_configs.record_in_mode(settings, now)
        change = decide_mode_change(
            settings.mode, settings.impact, settings.criteria, metrics, settings.auto_promote
        )
        if change is not None:
            await move_mode(
                settings, change, kind=change.kind, changed_by=change.kind, metrics=metrics, now=now
            )
        return change
