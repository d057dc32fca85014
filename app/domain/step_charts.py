"""Geometry of the step analytics charts (success rate over time, runs per day), drawn as SVG
by a template; pure, so what each chart says is unit-tested without a browser."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.domain.promotion import RunOutcome, outcome_of

WIDTH = 640
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 14, 30  # plot margins for axis labels
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = HEIGHT - TOP - BOTTOM
MAX_RATE_POINTS = 200


@dataclass(frozen=True)
class FinishedRun:
    status: str
    ended_at: datetime
    mode: str


@dataclass(frozen=True)
class ModeMark:
    changed_at: datetime
    from_mode: str
    to_mode: str
    kind: str


@dataclass(frozen=True)
class Tick:
    position: float  # x for the time axis, y for the rate axis
    label: str


@dataclass(frozen=True)
class ChangeLine:
    x: float
    label: str


@dataclass(frozen=True)
class RateChart:
    """Success rate over the last `window` counted runs, after each counted run, oldest first."""

    points: str  # SVG polyline points
    dots: tuple[tuple[float, float, bool], ...]  # x, y, whether that run succeeded
    threshold_y: float
    threshold_label: str
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    changes: tuple[ChangeLine, ...]
    title: str
    description: str


@dataclass(frozen=True)
class DayBar:
    day: date
    x: float
    width: float
    success_y: float
    success_h: float
    failure_y: float
    failure_h: float
    successes: int
    failures: int
    label: str  # shown under the bar, empty when there is no room


@dataclass(frozen=True)
class RunsPerDayChart:
    bars: tuple[DayBar, ...]
    y_ticks: tuple[Tick, ...]
    title: str
    description: str


def _y_for_rate(rate: float) -> float:
    return TOP + PLOT_H * (1 - rate / 100)


def _fmt_rate(rate: float) -> str:
    return f"{rate:.1f}".rstrip("0").rstrip(".")


def _counted(runs: Iterable[FinishedRun]) -> list[tuple[datetime, bool]]:
    """(ended_at, succeeded) of every counted run, oldest first."""
    return sorted(
        (run.ended_at, outcome is RunOutcome.SUCCESS)
        for run in runs
        if (outcome := outcome_of(run.status)) is not RunOutcome.NOT_COUNTED
    )


def _rolling_rates(counted: list[tuple[datetime, bool]], window: int) -> list[float]:
    """The success rate over the last `window` runs after each run."""
    rates: list[float] = []
    for index in range(len(counted)):
        recent = counted[max(0, index + 1 - window) : index + 1]
        rates.append(100 * sum(success for _, success in recent) / len(recent))
    return rates


@dataclass(frozen=True)
class _RunAxis:
    """Where each of `count` runs sits on the x axis, evenly spaced (one run: in the middle)."""

    count: int

    @property
    def step(self) -> float:
        return PLOT_W / (self.count - 1) if self.count > 1 else 0.0

    def x_at(self, index: int) -> float:
        return LEFT + (index * self.step if self.count > 1 else PLOT_W / 2)


def _change_lines(
    changes: Iterable[ModeMark], shown: list[tuple[datetime, bool]], axis: _RunAxis
) -> list[ChangeLine]:
    """A line for each mode change within the shown runs, between the last run before it and
    the first one after it."""
    first_at, last_at = shown[0][0], shown[-1][0]
    lines: list[ChangeLine] = []
    for change in sorted(changes, key=lambda c: c.changed_at):
        if not first_at <= change.changed_at <= last_at:
            continue
        before = sum(1 for ended_at, _ in shown if ended_at < change.changed_at)
        if 0 < before < len(shown):
            x = axis.x_at(before) - axis.step / 2
        else:
            x = axis.x_at(min(before, len(shown) - 1))
        arrow = {"promotion": "↑", "demotion": "↓"}.get(change.kind, "✎")
        lines.append(ChangeLine(round(x, 1), f"{arrow} {change.to_mode}"))
    return lines


def _x_ticks(shown: list[tuple[datetime, bool]], axis: _RunAxis) -> tuple[Tick, ...]:
    first_at, last_at = shown[0][0], shown[-1][0]
    x_indexes = sorted({0, (len(shown) - 1) // 2, len(shown) - 1})
    # Runs within a day (a simulation) are told apart by the second, longer spans by the day.
    tick_format = "%H:%M:%S" if last_at - first_at < timedelta(days=1) else "%b %d %H:%M"
    return tuple(Tick(round(axis.x_at(i), 1), shown[i][0].strftime(tick_format)) for i in x_indexes)


def rate_chart(
    runs: Iterable[FinishedRun],
    changes: Iterable[ModeMark],
    window: int,
    min_success_rate: float,
) -> RateChart | None:
    """The rolling success rate the demotion rule watches, with the mode changes marked;
    None when no run has counted yet (the page shows an empty state instead)."""
    counted = _counted(runs)
    if not counted:
        return None
    shown = counted[-MAX_RATE_POINTS:]
    shown_rates = _rolling_rates(counted, window)[-MAX_RATE_POINTS:]
    axis = _RunAxis(len(shown))
    dots = tuple(
        (round(axis.x_at(i), 1), round(_y_for_rate(rate), 1), success)
        for i, ((_, success), rate) in enumerate(zip(shown, shown_rates, strict=True))
    )
    lines = _change_lines(changes, shown, axis)
    description = (
        f"{len(shown)} counted runs from {_when(shown[0][0])} to {_when(shown[-1][0])}. "
        f"Success rate over the last {window} runs: now {_fmt_rate(shown_rates[-1])}%, "
        f"lowest {_fmt_rate(min(shown_rates))}%, highest {_fmt_rate(max(shown_rates))}%; "
        f"the minimum is {_fmt_rate(min_success_rate)}%."
    )
    if lines:
        description += " Mode changes: " + ", ".join(line.label for line in lines) + "."
    return RateChart(
        points=" ".join(f"{x},{y}" for x, y, _ in dots),
        dots=dots,
        threshold_y=round(_y_for_rate(min_success_rate), 1),
        threshold_label=f"min {_fmt_rate(min_success_rate)}%",
        y_ticks=tuple(Tick(round(_y_for_rate(r), 1), f"{r}%") for r in (0, 25, 50, 75, 100)),
        x_ticks=_x_ticks(shown, axis),
        changes=tuple(lines),
        title=f"Success rate over the last {window} runs",
        description=description,
    )


def _when(moment: datetime) -> str:
    return moment.strftime("%b %d %H:%M")


def runs_per_day_chart(runs: Iterable[FinishedRun], today: date, days: int = 14) -> RunsPerDayChart:
    """Counted runs per day (successes and failures stacked) over the last `days` days
    (UTC dates), today last; days without runs keep their place as empty bars."""
    first = today - timedelta(days=days - 1)
    tally: dict[date, tuple[int, int]] = {}
    for run in runs:
        outcome = outcome_of(run.status)
        day = run.ended_at.date()
        if outcome is RunOutcome.NOT_COUNTED or not first <= day <= today:
            continue
        successes, failures = tally.get(day, (0, 0))
        success = outcome is RunOutcome.SUCCESS
        tally[day] = (successes + success, failures + (not success))
    return day_chart(tally, today, days)


def day_chart(
    tally: Mapping[date, tuple[int, int]], today: date, days: int = 14
) -> RunsPerDayChart:
    """The runs-per-day chart from per-day (successes, failures) counts (UTC dates; one GROUP BY
    reads them); days outside the last `days` days are ignored, missing days are empty bars."""
    first = today - timedelta(days=days - 1)
    counts: dict[date, list[int]] = {first + timedelta(days=i): [0, 0] for i in range(days)}
    for day, (successes, failures) in tally.items():
        if day in counts:
            counts[day] = [successes, failures]
    peak = max((s + f for s, f in counts.values()), default=0)
    scale_top = _nice_ceiling(peak)
    slot = PLOT_W / days
    width = slot * 0.7
    label_every = 1 if days <= 14 else 2

    def height(count: int) -> float:
        return PLOT_H * count / scale_top if scale_top else 0.0

    bars: list[DayBar] = []
    for index, (day, (successes, failures)) in enumerate(sorted(counts.items())):
        success_h = height(successes)
        failure_h = height(failures)
        base = TOP + PLOT_H
        bars.append(
            DayBar(
                day=day,
                x=round(LEFT + index * slot + (slot - width) / 2, 1),
                width=round(width, 1),
                success_y=round(base - success_h, 1),
                success_h=round(success_h, 1),
                failure_y=round(base - success_h - failure_h, 1),
                failure_h=round(failure_h, 1),
                successes=successes,
                failures=failures,
                label=day.strftime("%d") if (days - 1 - index) % label_every == 0 else "",
            )
        )
    y_ticks = tuple(
        Tick(round(TOP + PLOT_H - height(value), 1), str(value))
        for value in sorted({0, scale_top // 2, scale_top})
    )
    total_s = sum(bar.successes for bar in bars)
    total_f = sum(bar.failures for bar in bars)
    busiest = max(bars, key=lambda bar: bar.successes + bar.failures)
    description = (
        f"{total_s + total_f} counted runs from {first:%b %d} to {today:%b %d}: "
        f"{total_s} succeeded, {total_f} failed or were rejected."
    )
    if busiest.successes + busiest.failures:
        description += (
            f" Busiest day {busiest.day:%b %d} with {busiest.successes + busiest.failures} runs."
        )
    return RunsPerDayChart(
        bars=tuple(bars),
        y_ticks=y_ticks,
        title=f"Runs per day, last {days} days",
        description=description,
    )


def _nice_ceiling(peak: int) -> int:
    """The smallest of 2, 4, 10, 20, 40, 100… at or above `peak`: a round axis top whose half
    (the middle tick) is a whole number too."""
    if peak <= 0:
        return 0
    magnitude = 1
    while True:
        for factor in (2, 4, 10):
            if factor * magnitude >= peak:
                return factor * magnitude
        magnitude *= 10
