"""Promotion rules: criteria at their boundaries, one hop at a time, demotion, estimates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.criteria import (
    DEFAULT_CRITERIA,
    CriteriaError,
    PromotionCriteria,
    criteria_for,
    validate_overrides,
)
from app.domain.modes import DEFAULT_MODE, PROMOTION_PATH, DeploymentMode, ImpactLevel
from app.domain.promotion import (
    RunOutcome,
    StepMetrics,
    decide_mode_change,
    manual_change,
    metrics_since,
    outcome_of,
    promotion_status,
)
from app.domain.promotion_estimate import recent_runs_per_day

AUTO = DeploymentMode.ALWAYS_AUTO
MONITORED = DeploymentMode.AUTO_MONITORED
VALIDATION = DeploymentMode.VALIDATION_REQUIRED
MANUAL = DeploymentMode.ALWAYS_MANUAL

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WRITE = DEFAULT_CRITERIA[ImpactLevel.WRITE]  # 98.0 % / 200 / 14 days / 50 consecutive / window 20


def record(successes: int, failures: int = 0, days: float = 30.0) -> StepMetrics:
    """Failures first, then the successes, so the streak equals `successes`."""
    return StepMetrics.from_runs((False,) * failures + (True,) * successes, days_in_mode=days)


def ready_for(criteria: PromotionCriteria) -> StepMetrics:
    return record(criteria.min_successful_runs, days=criteria.min_days_in_mode)


def met(metrics: StepMetrics, criteria: PromotionCriteria = WRITE) -> dict[str, bool]:
    status = promotion_status(VALIDATION, ImpactLevel.WRITE, criteria, metrics, True)
    return {item.name: item.met for item in status.criteria}


# --- defaults and overrides -------------------------------------------------------------


def test_default_criteria_match_the_spec_table() -> None:
    table = {
        ImpactLevel.ACCESSORY: (95.0, 50, 3, 10),
        ImpactLevel.READ: (98.0, 100, 7, 25),
        ImpactLevel.WRITE: (98.0, 200, 14, 50),
        ImpactLevel.CRITICAL: (99.9, 500, 30, 100),
        ImpactLevel.EXTERNAL: (98.0, 200, 14, 50),
    }
    assert set(DEFAULT_CRITERIA) == set(ImpactLevel)
    for impact, (rate, runs, days, streak) in table.items():
        assert DEFAULT_CRITERIA[impact] == PromotionCriteria(rate, runs, days, streak, 20)
        assert criteria_for(impact) == DEFAULT_CRITERIA[impact]
        assert criteria_for(impact, {}) == DEFAULT_CRITERIA[impact]


def test_overrides_replace_only_the_named_fields() -> None:
    custom = criteria_for(
        ImpactLevel.WRITE,
        {"min_successful_runs": 20, "min_days_in_mode": 0.5, "demotion_window": 5},
    )
    assert custom == PromotionCriteria(98.0, 20, 0.5, 50, 5)
    assert criteria_for(ImpactLevel.CRITICAL, {"min_success_rate": 90}).min_success_rate == 90.0


def test_whole_number_overrides_given_as_floats_become_ints() -> None:
    custom = criteria_for(ImpactLevel.READ, {"min_successful_runs": 10.0})
    assert custom.min_successful_runs == 10
    assert isinstance(custom.min_successful_runs, int)


def test_overrides_at_the_edges_of_their_ranges_are_accepted() -> None:
    edges = {
        "min_success_rate": 0,
        "min_successful_runs": 0,
        "min_days_in_mode": 0,
        "min_consecutive_successes": 0,
        "demotion_window": 1,
    }
    assert validate_overrides(edges) == {}
    assert validate_overrides({"min_success_rate": 100.0}) == {}


def test_out_of_range_overrides_are_reported_per_field_with_the_allowed_range() -> None:
    problems = validate_overrides(
        {
            "min_success_rate": 100.1,
            "min_successful_runs": -1,
            "min_days_in_mode": -0.5,
            "min_consecutive_successes": 2.5,
            "demotion_window": 0,
            "min_speed": 3,
        }
    )
    assert set(problems) == {
        "min_success_rate",
        "min_successful_runs",
        "min_days_in_mode",
        "min_consecutive_successes",
        "demotion_window",
        "min_speed",
    }
    assert "between 0 and 100" in problems["min_success_rate"]
    assert "≥ 0" in problems["min_successful_runs"]
    assert "≥ 0" in problems["min_days_in_mode"]
    assert "whole number" in problems["min_consecutive_successes"]
    assert "≥ 1" in problems["demotion_window"]
    assert "unknown criterion 'min_speed'" in problems["min_speed"]
    assert "min_success_rate" in problems["min_speed"]  # lists the allowed names
    for name, message in problems.items():
        assert name in message


def test_negative_rate_booleans_and_non_numbers_are_refused() -> None:
    problems = validate_overrides(
        {"min_success_rate": -1, "min_successful_runs": True, "min_days_in_mode": "7"}
    )
    assert set(problems) == {"min_success_rate", "min_successful_runs", "min_days_in_mode"}
    assert validate_overrides({"min_days_in_mode": float("nan")}) != {}


def test_criteria_for_refuses_invalid_overrides() -> None:
    with pytest.raises(CriteriaError, match="demotion_window") as caught:
        criteria_for(ImpactLevel.WRITE, {"demotion_window": 0})
    assert set(caught.value.problems) == {"demotion_window"}


# --- outcomes and metrics ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("completed", RunOutcome.SUCCESS),
        ("failed", RunOutcome.FAILURE),
        ("rejected", RunOutcome.FAILURE),
        ("expired", RunOutcome.NOT_COUNTED),
        ("skipped", RunOutcome.NOT_COUNTED),
        ("cancelled", RunOutcome.NOT_COUNTED),
        ("running", RunOutcome.NOT_COUNTED),
    ],
)
def test_step_run_status_maps_to_its_promotion_outcome(status: str, outcome: RunOutcome) -> None:
    assert outcome_of(status) is outcome


def test_metrics_count_only_runs_since_the_mode_started_and_ignore_not_counted() -> None:
    since = NOW - timedelta(days=3, hours=12)
    runs = [
        ("failed", since - timedelta(seconds=1)),  # previous mode
        ("completed", since),  # exactly at the change: new mode
        ("expired", since + timedelta(hours=1)),
        ("completed", since + timedelta(hours=2)),
        ("skipped", since + timedelta(hours=3)),
        ("rejected", since + timedelta(hours=4)),
        ("completed", since + timedelta(hours=5)),
        ("expired", since + timedelta(hours=6)),
        ("completed", since + timedelta(hours=7)),
    ]
    metrics = metrics_since(runs, since, NOW)
    assert metrics.total_runs == 5
    assert metrics.successes == 4
    assert metrics.success_rate == 80.0
    assert metrics.consecutive_successes == 2
    assert metrics.days_in_mode == 3.5


def test_metrics_order_runs_by_end_time_whatever_the_input_order() -> None:
    since = NOW - timedelta(days=1)
    runs = [
        ("completed", since + timedelta(hours=3)),
        ("failed", since + timedelta(hours=1)),
        ("completed", since + timedelta(hours=2)),
    ]
    metrics = metrics_since(runs, since, NOW)
    assert metrics.recent_runs == (False, True, True)
    assert metrics.consecutive_successes == 2


def test_consecutive_successes_are_broken_by_a_failure_or_a_rejection() -> None:
    since = NOW - timedelta(days=1)
    for breaker in ("failed", "rejected"):
        runs = [("completed", since + timedelta(minutes=m)) for m in range(10)]
        runs.append((breaker, since + timedelta(minutes=10)))
        runs.append(("completed", since + timedelta(minutes=11)))
        assert metrics_since(runs, since, NOW).consecutive_successes == 1


def test_not_counted_runs_do_not_break_the_streak() -> None:
    since = NOW - timedelta(days=1)
    runs = [
        ("completed", since + timedelta(minutes=1)),
        ("expired", since + timedelta(minutes=2)),
        ("skipped", since + timedelta(minutes=3)),
        ("completed", since + timedelta(minutes=4)),
    ]
    assert metrics_since(runs, since, NOW).consecutive_successes == 2


def test_no_runs_means_zero_rate_and_zero_streak() -> None:
    metrics = metrics_since([], NOW, NOW)
    assert (metrics.total_runs, metrics.success_rate, metrics.consecutive_successes) == (0, 0.0, 0)
    assert metrics.recent_success_rate(20) == 0.0
    assert metrics.days_in_mode == 0.0


def test_recent_success_rate_covers_only_the_last_counted_runs() -> None:
    metrics = StepMetrics.from_runs((False,) * 10 + (True,) * 18 + (False,) * 2)
    assert metrics.recent_success_rate(20) == 90.0
    assert metrics.recent_success_rate(2) == 0.0
    assert metrics.recent_success_rate(100) == 60.0  # fewer runs than the window: all of them


def test_recent_run_rate_counts_counted_runs_in_the_last_days() -> None:
    runs = [("completed", NOW - timedelta(days=d)) for d in (0.5, 1, 2, 6)]
    runs += [("expired", NOW - timedelta(days=1)), ("failed", NOW - timedelta(days=8))]
    assert recent_runs_per_day(runs, NOW, days=7) == pytest.approx(4 / 7)
    assert recent_runs_per_day([], NOW) == 0.0


def test_metrics_snapshot_holds_the_scalar_metrics_for_the_audit_trail() -> None:
    assert record(3, 1, days=2.0).snapshot() == {
        "total_runs": 4,
        "successes": 3,
        "success_rate": 75.0,
        "consecutive_successes": 3,
        "days_in_mode": 2.0,
    }


# --- each criterion at its boundary -----------------------------------------------------


def test_success_rate_just_below_at_and_above_the_minimum() -> None:
    # 200 runs: 195 successes = 97.5 %, 196 = exactly 98.0 %, 197 = 98.5 %.
    assert met(record(195, 5))["min_success_rate"] is False
    assert met(record(196, 4))["min_success_rate"] is True
    assert met(record(197, 3))["min_success_rate"] is True


def test_critical_success_rate_of_exactly_99_9_percent_counts_as_met() -> None:
    critical = DEFAULT_CRITERIA[ImpactLevel.CRITICAL]
    assert met(record(999, 1), critical)["min_success_rate"] is True  # 99.9 %
    assert met(record(998, 2), critical)["min_success_rate"] is False  # 99.8 %
    assert met(record(9989, 11), critical)["min_success_rate"] is False  # 99.89 %


def test_successful_runs_just_below_at_and_above_the_minimum() -> None:
    assert met(record(199))["min_successful_runs"] is False
    assert met(record(200))["min_successful_runs"] is True
    assert met(record(201))["min_successful_runs"] is True


def test_failures_do_not_count_toward_successful_runs() -> None:
    assert met(record(199, 5))["min_successful_runs"] is False


def test_days_in_mode_just_below_at_and_above_the_minimum() -> None:
    assert met(record(0, days=13.99))["min_days_in_mode"] is False
    assert met(record(0, days=14))["min_days_in_mode"] is True
    assert met(record(0, days=14.01))["min_days_in_mode"] is True


def test_consecutive_successes_just_below_at_and_above_the_minimum() -> None:
    assert met(record(49, 1))["min_consecutive_successes"] is False
    assert met(record(50, 1))["min_consecutive_successes"] is True
    assert met(record(51, 1))["min_consecutive_successes"] is True


def test_progress_displays_current_over_required_with_a_mark() -> None:
    metrics = record(127, 1, days=3.25)
    status = promotion_status(VALIDATION, ImpactLevel.WRITE, WRITE, metrics, True)
    displays = {item.name: item.display for item in status.criteria}
    labels = {item.name: item.label for item in status.criteria}
    assert displays == {
        "min_success_rate": "99.2% / 98.0% ✓",
        "min_successful_runs": "127 / 200 ✗",
        "min_days_in_mode": "3.2 / 14 days ✗",
        "min_consecutive_successes": "127 / 50 ✓",
    }
    assert labels["min_successful_runs"] == "min successful runs"
    runs = next(item for item in status.criteria if item.name == "min_successful_runs")
    assert (runs.current, runs.required, runs.met) == (127, 200, False)


def test_a_rate_just_short_of_the_minimum_never_displays_as_reaching_it() -> None:
    critical = DEFAULT_CRITERIA[ImpactLevel.CRITICAL]
    status = promotion_status(MANUAL, ImpactLevel.CRITICAL, critical, record(9989, 11), False)
    assert status.criteria[0].display == "99.8% / 99.9% ✗"


# --- promotion readiness and automatic promotion ----------------------------------------


def test_ready_when_every_criterion_is_met_exactly_and_a_next_mode_exists() -> None:
    status = promotion_status(VALIDATION, ImpactLevel.WRITE, WRITE, ready_for(WRITE), True)
    assert all(item.met for item in status.criteria)
    assert status.promotion_ready is True
    assert status.next_mode is MONITORED
    assert status.automatic_allowed is True


def test_one_unmet_criterion_blocks_readiness_and_promotion() -> None:
    almost = [record(199, days=14), record(200, days=13.9), record(200, 5, days=14)]
    almost.append(StepMetrics.from_runs((True,) * 160 + (False,) + (True,) * 49, days_in_mode=14))
    for metrics in almost:
        assert not promotion_status(
            VALIDATION, ImpactLevel.WRITE, WRITE, metrics, True
        ).promotion_ready
        assert decide_mode_change(VALIDATION, ImpactLevel.WRITE, WRITE, metrics, True) is None


@pytest.mark.parametrize("impact", list(ImpactLevel))
def test_automatic_promotion_climbs_one_hop_at_a_time_to_the_ceiling(impact: ImpactLevel) -> None:
    criteria = DEFAULT_CRITERIA[impact]
    path = PROMOTION_PATH[impact]
    mode = DEFAULT_MODE[impact]
    visited = [mode]
    while True:
        change = decide_mode_change(mode, impact, criteria, ready_for(criteria), True)
        if mode is MANUAL:  # only an admin lifts always_manual
            assert change is None
            change = manual_change(mode, impact, path[1], "reviewed")
        if change is None:
            break
        assert change.kind == "promotion"
        assert path.index(change.to_mode) == path.index(mode) + 1
        mode = change.to_mode
        visited.append(mode)
    assert tuple(visited) == path


def test_each_automatic_promotion_is_exactly_one_hop_on_every_path() -> None:
    for impact, path in PROMOTION_PATH.items():
        criteria = DEFAULT_CRITERIA[impact]
        for lower, upper in zip(path, path[1:], strict=False):
            change = decide_mode_change(lower, impact, criteria, ready_for(criteria), True)
            if lower is MANUAL:
                assert change is None
                continue
            assert change is not None
            assert (change.from_mode, change.to_mode, change.kind) == (lower, upper, "promotion")
            assert change.automatic is True


def test_promotion_reason_quotes_the_metrics() -> None:
    change = decide_mode_change(VALIDATION, ImpactLevel.WRITE, WRITE, record(200, 2, days=14), True)
    assert change is not None
    assert (
        change.reason
        == "all criteria met: 200 successful runs, 99.0% success, 200 consecutive, 14.0 days"
    )


def test_the_ceiling_has_no_next_mode_and_is_never_ready() -> None:
    for impact, path in PROMOTION_PATH.items():
        criteria = DEFAULT_CRITERIA[impact]
        status = promotion_status(path[-1], impact, criteria, ready_for(criteria), True)
        assert status.next_mode is None
        assert status.promotion_ready is False
        assert decide_mode_change(path[-1], impact, criteria, ready_for(criteria), True) is None


def test_accessory_stays_always_auto() -> None:
    criteria = DEFAULT_CRITERIA[ImpactLevel.ACCESSORY]
    assert (
        decide_mode_change(AUTO, ImpactLevel.ACCESSORY, criteria, ready_for(criteria), True) is None
    )
    assert decide_mode_change(AUTO, ImpactLevel.ACCESSORY, criteria, record(0, 50), True) is None


def test_critical_never_reaches_always_auto_automatically() -> None:
    criteria = DEFAULT_CRITERIA[ImpactLevel.CRITICAL]
    metrics = record(10_000, days=365)
    assert decide_mode_change(MONITORED, ImpactLevel.CRITICAL, criteria, metrics, True) is None
    assert (
        promotion_status(MONITORED, ImpactLevel.CRITICAL, criteria, metrics, True).next_mode is None
    )


def test_always_manual_is_ready_but_never_promoted_automatically() -> None:
    criteria = DEFAULT_CRITERIA[ImpactLevel.CRITICAL]
    status = promotion_status(MANUAL, ImpactLevel.CRITICAL, criteria, ready_for(criteria), True)
    assert status.promotion_ready is True
    assert status.next_mode is VALIDATION
    assert status.automatic_allowed is False
    assert (
        decide_mode_change(MANUAL, ImpactLevel.CRITICAL, criteria, ready_for(criteria), True)
        is None
    )


def test_auto_promote_off_blocks_automatic_promotion_but_not_readiness() -> None:
    status = promotion_status(VALIDATION, ImpactLevel.WRITE, WRITE, ready_for(WRITE), False)
    assert status.promotion_ready is True
    assert status.automatic_allowed is False
    assert decide_mode_change(VALIDATION, ImpactLevel.WRITE, WRITE, ready_for(WRITE), False) is None


def test_overridden_criteria_drive_the_decision() -> None:
    easy = criteria_for(
        ImpactLevel.WRITE,
        {"min_successful_runs": 5, "min_days_in_mode": 0, "min_consecutive_successes": 5},
    )
    change = decide_mode_change(VALIDATION, ImpactLevel.WRITE, easy, record(5, days=0), True)
    assert change is not None and change.to_mode is MONITORED


# --- demotion ---------------------------------------------------------------------------


def window_with(successes: int, window: int = 20, before: int = 200) -> StepMetrics:
    """`before` clean successes, then a window whose failures come first (rate = successes/window)."""
    failures = window - successes
    return StepMetrics.from_runs(
        (True,) * before + (False,) * failures + (True,) * successes, days_in_mode=30
    )


def test_demotion_when_the_recent_window_is_just_below_the_minimum_rate() -> None:
    # 19 of 20 = 95 % < 98 %: one step down, at once, even with a good overall record.
    metrics = window_with(19)
    assert metrics.success_rate > WRITE.min_success_rate
    change = decide_mode_change(AUTO, ImpactLevel.WRITE, WRITE, metrics, True)
    assert change is not None
    assert (change.from_mode, change.to_mode, change.kind) == (AUTO, MONITORED, "demotion")
    assert change.reason == "success rate 95.0% over the last 20 runs is below 98.0%"


def test_no_demotion_when_the_recent_window_is_exactly_at_the_minimum_rate() -> None:
    exact = criteria_for(ImpactLevel.WRITE, {"min_success_rate": 95.0})
    assert decide_mode_change(AUTO, ImpactLevel.WRITE, exact, window_with(19), True) is None
    below = criteria_for(ImpactLevel.WRITE, {"min_success_rate": 95.01})
    change = decide_mode_change(AUTO, ImpactLevel.WRITE, below, window_with(19), True)
    assert change is not None and change.kind == "demotion"


def test_demotion_needs_a_full_window_of_counted_runs() -> None:
    nineteen = StepMetrics.from_runs((False,) * 19, days_in_mode=30)
    assert decide_mode_change(MONITORED, ImpactLevel.WRITE, WRITE, nineteen, True) is None
    twenty = StepMetrics.from_runs((False,) * 20, days_in_mode=30)
    change = decide_mode_change(MONITORED, ImpactLevel.WRITE, WRITE, twenty, True)
    assert change is not None and change.to_mode is VALIDATION


def test_demotion_uses_the_steps_own_window() -> None:
    # Last 5 runs: 4 successes = 80 %; last 20 runs: 19 successes = 95 %.
    metrics = StepMetrics.from_runs((True,) * 100 + (False,) + (True,) * 4, days_in_mode=30)
    long = criteria_for(ImpactLevel.WRITE, {"min_success_rate": 90})
    short = criteria_for(ImpactLevel.WRITE, {"min_success_rate": 90, "demotion_window": 5})
    assert decide_mode_change(AUTO, ImpactLevel.WRITE, long, metrics, True) is None
    change = decide_mode_change(AUTO, ImpactLevel.WRITE, short, metrics, True)
    assert change is not None
    assert change.reason == "success rate 80.0% over the last 5 runs is below 90.0%"


def test_demotion_happens_even_with_auto_promote_off() -> None:
    external = DEFAULT_CRITERIA[ImpactLevel.EXTERNAL]
    change = decide_mode_change(MONITORED, ImpactLevel.EXTERNAL, external, window_with(10), False)
    assert change is not None and change.to_mode is VALIDATION


def test_critical_auto_monitored_is_demoted_to_validation_required() -> None:
    criteria = DEFAULT_CRITERIA[ImpactLevel.CRITICAL]
    change = decide_mode_change(MONITORED, ImpactLevel.CRITICAL, criteria, window_with(19), True)
    assert change is not None and change.to_mode is VALIDATION


def test_modes_needing_approval_are_not_watched_for_demotion() -> None:
    failing = StepMetrics.from_runs((False,) * 50, days_in_mode=30)
    assert decide_mode_change(VALIDATION, ImpactLevel.WRITE, WRITE, failing, True) is None
    critical = DEFAULT_CRITERIA[ImpactLevel.CRITICAL]
    assert decide_mode_change(VALIDATION, ImpactLevel.CRITICAL, critical, failing, True) is None
    assert decide_mode_change(MANUAL, ImpactLevel.CRITICAL, critical, failing, True) is None


def test_the_first_mode_of_a_path_is_never_demoted() -> None:
    failing = StepMetrics.from_runs((False,) * 50, days_in_mode=30)
    read = DEFAULT_CRITERIA[ImpactLevel.READ]
    accessory = DEFAULT_CRITERIA[ImpactLevel.ACCESSORY]
    assert decide_mode_change(MONITORED, ImpactLevel.READ, read, failing, True) is None
    assert decide_mode_change(AUTO, ImpactLevel.ACCESSORY, accessory, failing, True) is None


def test_demotion_moves_one_step_down_on_every_path() -> None:
    for impact, path in PROMOTION_PATH.items():
        criteria = DEFAULT_CRITERIA[impact]
        for lower, upper in zip(path, path[1:], strict=False):
            change = decide_mode_change(upper, impact, criteria, window_with(0), True)
            if upper.needs_approval:
                assert change is None
            else:
                assert change is not None
                assert (change.to_mode, change.kind) == (lower, "demotion")


def test_not_counted_runs_never_fill_the_demotion_window() -> None:
    since = NOW - timedelta(days=30)
    runs = [("failed", since + timedelta(hours=h)) for h in range(19)]
    runs += [("expired", since + timedelta(hours=100 + h)) for h in range(50)]
    runs += [("skipped", since + timedelta(hours=200 + h)) for h in range(50)]
    metrics = metrics_since(runs, since, NOW)
    assert metrics.total_runs == 19
    assert decide_mode_change(AUTO, ImpactLevel.WRITE, WRITE, metrics, True) is None
