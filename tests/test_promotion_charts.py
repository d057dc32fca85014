"""What the analytics charts say: the rolling success rate, mode-change marks, runs per day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from app.domain.step_charts import (
    HEIGHT,
    LEFT,
    PLOT_H,
    TOP,
    WIDTH,
    FinishedRun,
    ModeMark,
    rate_chart,
    runs_per_day_chart,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def runs(*statuses: str, start: datetime = T0, every: timedelta = timedelta(minutes=1)) -> list:
    return [FinishedRun(s, start + i * every, "auto_monitored") for i, s in enumerate(statuses)]


def test_no_counted_run_means_no_rate_chart() -> None:
    assert rate_chart([], [], 20, 98.0) is None
    assert rate_chart(runs("expired", "skipped"), [], 20, 98.0) is None


def test_the_rate_line_is_the_success_rate_over_the_demotion_window() -> None:
    chart = rate_chart(runs("completed", "failed", "completed", "completed"), [], 2, 50.0)
    assert chart is not None
    ys = [y for _, y, _ in chart.dots]
    # Window 2: 100 %, 50 %, 50 %, 100 %.
    y100, y50 = TOP, TOP + PLOT_H / 2
    assert ys == [y100, y50, y50, y100]
    assert [ok for _, _, ok in chart.dots] == [True, False, True, True]
    assert chart.threshold_y == y50 and chart.threshold_label == "min 50%"
    xs = [x for x, _, _ in chart.dots]
    assert xs[0] == LEFT and xs[-1] == WIDTH - 12 and xs == sorted(xs)
    assert "now 100%, lowest 50%, highest 100%; the minimum is 50%" in chart.description
    assert chart.title == "Success rate over the last 2 runs"


def test_expired_and_skipped_runs_leave_the_rate_alone_and_rejections_lower_it() -> None:
    chart = rate_chart(runs("completed", "expired", "rejected", "skipped"), [], 20, 98.0)
    assert chart is not None and len(chart.dots) == 2
    assert chart.dots[-1][1] == TOP + PLOT_H / 2  # 1 of 2


def test_a_mode_change_is_marked_between_the_runs_around_it() -> None:
    history = runs("completed", "completed", "completed", "failed")
    changed = ModeMark(
        T0 + timedelta(minutes=1, seconds=30), "auto_monitored", "always_auto", "promotion"
    )
    outside = ModeMark(T0 - timedelta(days=1), "always_auto", "auto_monitored", "demotion")
    chart = rate_chart(history, [changed, outside], 20, 98.0)
    assert chart is not None
    (line,) = chart.changes
    x1, x2 = chart.dots[1][0], chart.dots[2][0]
    assert line.x == round((x1 + x2) / 2, 1) and line.label == "↑ always_auto"
    assert "Mode changes: ↑ always_auto." in chart.description


def test_a_single_run_is_drawn_in_the_middle() -> None:
    chart = rate_chart(runs("completed"), [], 20, 98.0)
    assert chart is not None and chart.dots == ((LEFT + (WIDTH - LEFT - 12) / 2, TOP, True),)


def test_runs_per_day_stack_successes_and_failures_and_keep_empty_days() -> None:
    today = date(2026, 3, 14)
    day = datetime(2026, 3, 14, 9, tzinfo=UTC)
    history = [
        *runs("completed", "completed", "failed", start=day),
        *runs("completed", "rejected", "expired", start=day - timedelta(days=2)),
        *runs("completed", start=day - timedelta(days=30)),  # outside the 14 days
    ]
    chart = runs_per_day_chart(history, today)
    assert len(chart.bars) == 14 and chart.bars[-1].day == today
    assert chart.bars[0].day == date(2026, 3, 1)
    last, two_days_ago = chart.bars[-1], chart.bars[-3]
    assert (last.successes, last.failures) == (2, 1)
    assert (two_days_ago.successes, two_days_ago.failures) == (1, 1)
    assert sum(bar.successes + bar.failures for bar in chart.bars) == 5
    # Axis top 4 for a peak of 3: each run is a quarter of the plot height.
    assert [tick.label for tick in chart.y_ticks] == ["0", "2", "4"]
    assert last.success_h == round(PLOT_H / 2, 1) and last.failure_h == round(PLOT_H / 4, 1)
    assert last.failure_y + last.failure_h == last.success_y
    assert last.success_y + last.success_h == TOP + PLOT_H == HEIGHT - 30
    assert chart.description.startswith(
        "5 counted runs from Mar 01 to Mar 14: 3 succeeded, 2 failed"
    )
    assert "Busiest day Mar 14 with 3 runs." in chart.description


def test_runs_per_day_without_runs_draws_flat_bars() -> None:
    chart = runs_per_day_chart([], date(2026, 3, 14))
    assert all(bar.success_h == bar.failure_h == 0 for bar in chart.bars)
    assert "Busiest" not in chart.description
