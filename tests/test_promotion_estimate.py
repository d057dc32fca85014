"""The estimate of days until promotion: missing runs, streak, rate and days, at the run rate."""

from __future__ import annotations

from app.domain.criteria import criteria_for
from app.domain.modes import ImpactLevel
from app.domain.promotion import StepMetrics
from app.domain.promotion_estimate import estimated_days_until_promotion
from tests.test_promotion import WRITE, ready_for, record


def test_estimate_is_zero_when_ready() -> None:
    assert estimated_days_until_promotion(ready_for(WRITE), WRITE, runs_per_day=0) == 0.0


def test_estimate_is_the_largest_of_missing_runs_streak_and_days() -> None:
    # 150 successes: 50 runs missing at 10/day = 5 days; 10 days in mode: 4 days missing.
    assert estimated_days_until_promotion(record(150, days=10), WRITE, 10) == 5.0
    # Streak of 10 after a failure: 40 runs missing → 4 days, but 12 days missing in the mode.
    streak = (True,) * 195 + (False,) + (True,) * 10
    assert (
        estimated_days_until_promotion(StepMetrics.from_runs(streak, days_in_mode=2), WRITE, 10)
        == 12.0
    )
    assert (
        estimated_days_until_promotion(StepMetrics.from_runs(streak, days_in_mode=14), WRITE, 10)
        == 4.0
    )


def test_estimate_counts_runs_needed_to_lift_the_success_rate() -> None:
    # 300 runs, 290 successes = 96.7 %; 200 more successes give 490/500 = 98 %.
    metrics = StepMetrics.from_runs((False,) * 10 + (True,) * 290, days_in_mode=30)
    assert estimated_days_until_promotion(metrics, WRITE, 100) == 2.0


def test_estimate_is_unknown_without_runs_when_runs_are_missing() -> None:
    assert estimated_days_until_promotion(record(150, days=30), WRITE, 0) is None


def test_estimate_with_only_days_missing_needs_no_runs() -> None:
    assert estimated_days_until_promotion(record(300, days=10), WRITE, 0) == 4.0


def test_estimate_is_unknown_when_a_perfect_rate_can_never_be_reached() -> None:
    perfect = criteria_for(ImpactLevel.WRITE, {"min_success_rate": 100})
    assert estimated_days_until_promotion(record(300, 1), perfect, 50) is None
    assert estimated_days_until_promotion(StepMetrics(days_in_mode=30), perfect, 50) == 4.0
