"""What the step pages and the analytics API show: each step's promotion status, and one step's
record, estimate, charts and mode history."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from app.db import step_configs, step_run_days
from app.domain.criteria import PromotionCriteria
from app.domain.definitions import WorkflowDefinition
from app.domain.promotion import (
    PromotionStatus,
    StepMetrics,
    not_automatic_because,
    promotion_status,
)
from app.domain.promotion_estimate import estimated_days_until_promotion
from app.domain.step_charts import (
    MAX_RATE_POINTS,
    ModeMark,
    RateChart,
    RunsPerDayChart,
    day_chart,
    rate_chart,
)
from app.domain.step_config import ModeHistoryEntry, StepSettings
from app.steps.configuration import load_settings, settings_of

CHART_HISTORY_DAYS = 90
DAY_CHART_DAYS = 14
RECENT_DAYS = 7.0  # the traffic rate's window, as recent_runs_per_day counts it


@dataclass(frozen=True)
class StepAnalytics:
    settings: StepSettings
    criteria: PromotionCriteria
    metrics: StepMetrics  # in the current mode; restarts with every mode change
    status: PromotionStatus
    estimated_days: float | None
    runs_per_day: float
    not_automatic_because: str  # why no automatic promotion will come, or ""
    all_time_runs: int
    all_time_successes: int
    history: list[ModeHistoryEntry]
    rate_chart: RateChart | None
    day_chart: RunsPerDayChart
    fault_rate: float | None

    @property
    def all_time_success_rate(self) -> float:
        return 100 * self.all_time_successes / self.all_time_runs if self.all_time_runs else 0.0


@dataclass(frozen=True)
class StepProgress:
    """One step's settings with its record in the current mode and its promotion status."""

    settings: StepSettings
    metrics: StepMetrics
    status: PromotionStatus


async def _progress(settings: StepSettings, now: datetime) -> StepProgress:
    metrics = await step_configs.record_in_mode(settings, now)
    status = promotion_status(
        settings.mode, settings.impact, settings.criteria, metrics, settings.auto_promote
    )
    return StepProgress(settings, metrics, status)


async def step_overview(definition: WorkflowDefinition) -> dict[str, StepProgress]:
    """For the configuration page: each configured step's progress, in definition order (the
    reads share one connection, as `analytics`' do)."""
    now = datetime.now(UTC)
    async with step_configs.transaction():
        return {
            step_id: await _progress(settings, now)
            for step_id, settings in (await load_settings(definition)).items()
        }


# The step page lists this many of its newest mode changes (the API pages through all).
HISTORY_SHOWN = 50


async def mode_history(
    workflow_id: str,
    step_id: str = "",
    after_id: int = 0,
    before_id: int = 0,
    limit: int = HISTORY_SHOWN,
) -> list[ModeHistoryEntry]:
    """Mode changes, newest first: one step's, or every step's of the workflow; a page of at
    most `limit` (see step_configs.mode_changes for the bounds)."""
    return await step_configs.mode_changes(workflow_id, step_id, after_id, before_id, limit)


async def analytics(
    definition: WorkflowDefinition, step_id: str, now: datetime | None = None
) -> StepAnalytics:
    """One step's analytics; raises UnknownStep for a step not defined. Its ~10 reads share one
    connection (a transaction: one snapshot, no pool hand-over and reset between reads)."""
    async with step_configs.transaction():
        return await _analytics(definition, step_id, now)


async def _analytics(
    definition: WorkflowDefinition, step_id: str, now: datetime | None
) -> StepAnalytics:
    now = now or datetime.now(UTC)
    settings = await settings_of(definition, step_id)
    progress = await _progress(settings, now)
    since = now - timedelta(days=CHART_HISTORY_DAYS)
    per_day = (
        await step_run_days.counted_between(
            definition.id, step_id, max(since, now - timedelta(days=RECENT_DAYS)), now
        )
        / RECENT_DAYS
    )
    reason = not_automatic_because(
        settings.mode, settings.impact, settings.auto_promote, progress.status
    )
    estimate = (
        None
        if reason
        else estimated_days_until_promotion(progress.metrics, settings.criteria, per_day)
    )
    history = await mode_history(definition.id, step_id)
    all_time_runs, all_time_successes = await step_run_days.all_time_counts(definition.id, step_id)
    criteria = settings.criteria
    # Aggregates only: the rate chart's last MAX_RATE_POINTS runs (plus the window before the
    # first of them, for its rolling rate) and the per-day counts; never every run.
    runs = await step_configs.latest_counted_runs(
        definition.id, step_id, since, MAX_RATE_POINTS + criteria.demotion_window - 1
    )
    today = now.date()
    first_day = datetime.combine(today - timedelta(days=DAY_CHART_DAYS - 1), time(), UTC)
    tally = await step_run_days.day_counts(
        definition.id, step_id, max(since, first_day), first_day + timedelta(days=DAY_CHART_DAYS)
    )
    return StepAnalytics(
        settings=settings,
        criteria=criteria,
        metrics=progress.metrics,
        status=progress.status,
        estimated_days=None if estimate is None or math.isinf(estimate) else estimate,
        runs_per_day=per_day,
        not_automatic_because=reason,
        all_time_runs=all_time_runs,
        all_time_successes=all_time_successes,
        history=history,
        rate_chart=rate_chart(
            runs,
            (ModeMark(h.changed_at, h.from_mode, h.to_mode, h.kind) for h in history),
            criteria.demotion_window,
            criteria.min_success_rate,
        ),
        day_chart=day_chart(tally, today, DAY_CHART_DAYS),
        fault_rate=await step_configs.fault_rate(definition.id, step_id),
    )
