"""The estimate of days until a step could be promoted: its record against the criteria, at
the rate its runs have been arriving."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from app.domain.criteria import PromotionCriteria
from app.domain.promotion import RunOutcome, StepMetrics, outcome_of, rate_of


def recent_runs_per_day(
    outcomes: Iterable[tuple[str, datetime]], now: datetime, days: float = 7.0
) -> float:
    """Counted runs per day over the last `days` days, whatever the mode: the traffic rate."""
    start = now - timedelta(days=days)
    runs = sum(
        1
        for status, ended_at in outcomes
        if start < ended_at <= now and outcome_of(status) is not RunOutcome.NOT_COUNTED
    )
    return runs / days if days > 0 else 0.0


def _runs_to_reach_rate(metrics: StepMetrics, min_rate: float) -> int | None:
    """Further successes needed to lift the rate to `min_rate`; None if no number can."""
    successes, runs = metrics.successes, metrics.total_runs

    def met(extra: int) -> bool:
        return rate_of(successes + extra, runs + extra) >= min_rate

    if met(0):
        return 0
    if min_rate >= 100.0:
        # Only a spotless record reaches 100%: the first run does if there is none yet.
        return None if metrics.failures else 1
    extra = max(1, math.ceil((min_rate * runs - 100 * successes) / (100.0 - min_rate)))
    while extra > 1 and met(extra - 1):
        extra -= 1
    while not met(extra):
        extra += 1
    return extra


def estimated_days_until_promotion(
    metrics: StepMetrics, criteria: PromotionCriteria, runs_per_day: float
) -> float | None:
    """Days until every criterion could hold if each further run succeeds at `runs_per_day`.

    The largest of: runs still missing for successful runs, consecutive successes and success
    rate (one run advances all three) at the run rate, and days still missing in the mode.
    0.0 when ready; None when runs are missing but none arrive, or the rate can never be met.
    Whether a next mode exists is the caller's question (see `promotion_status`).
    """
    rate_runs = _runs_to_reach_rate(metrics, criteria.min_success_rate)
    if rate_runs is None:
        return None
    runs_needed = max(
        criteria.min_successful_runs - metrics.successes,
        criteria.min_consecutive_successes - metrics.consecutive_successes,
        rate_runs,
        0,
    )
    days_needed = max(criteria.min_days_in_mode - metrics.days_in_mode, 0.0)
    if runs_needed == 0:
        return float(days_needed)
    if runs_per_day <= 0:
        return None
    return max(runs_needed / runs_per_day, days_needed)
