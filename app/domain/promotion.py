"""Promotion and demotion rules: per-step metrics, progress toward the next mode, and the
automatic and by-hand mode changes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any, Literal

from app.domain.criteria import CRITERION_LABELS, PromotionCriteria
from app.domain.modes import PROMOTION_PATH, DeploymentMode, ImpactLevel
from app.domain.statuses import StepStatus
from app.domain.text import is_blank, normalised

SECONDS_PER_DAY = 86_400.0


class ModeChangeRefused(ValueError):
    """An admin's mode change that the step's impact does not allow."""


class RunOutcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    NOT_COUNTED = "not_counted"


def outcome_of(status: str) -> RunOutcome:
    """A finished step run's status as a promotion outcome; a rejection is a caught mistake."""
    if status == StepStatus.COMPLETED:
        return RunOutcome.SUCCESS
    if status in (StepStatus.FAILED, StepStatus.REJECTED):
        return RunOutcome.FAILURE
    return RunOutcome.NOT_COUNTED


@dataclass(frozen=True)
class StepMetrics:
    """A step's record in its current mode; every counter restarts when the mode changes.

    Counts, plus the most recent counted runs (oldest first, True for a success) — as many as
    the demotion window looks at — so PostgreSQL can hand them over in one aggregate query
    however long the step has been in its mode. Restarting all counters (not only days and
    consecutive) means a freshly changed step needs a full window of its own runs before it
    can be demoted again.
    """

    total_runs: int = 0
    successes: int = 0
    consecutive_successes: int = 0
    recent_runs: tuple[bool, ...] = field(default=(), repr=False)
    days_in_mode: float = 0.0

    @classmethod
    def from_runs(cls, counted_runs: Sequence[bool], days_in_mode: float = 0.0) -> StepMetrics:
        """From every counted run since the mode started, oldest first."""
        streak = 0
        for success in reversed(counted_runs):
            if not success:
                break
            streak += 1
        return cls(len(counted_runs), sum(counted_runs), streak, tuple(counted_runs), days_in_mode)

    @property
    def failures(self) -> int:
        return self.total_runs - self.successes

    @property
    def success_rate(self) -> float:
        return rate_of(self.successes, self.total_runs)

    def recent_success_rate(self, window: int) -> float:
        """Success rate (percent) over the last `window` counted runs, or fewer if fewer exist."""
        recent = self.recent_runs[-window:] if window > 0 else ()
        return rate_of(sum(recent), len(recent))

    def snapshot(self) -> dict[str, float | int]:
        """The scalar metrics, as recorded with a mode-change audit event."""
        return {
            "total_runs": self.total_runs,
            "successes": self.successes,
            "success_rate": self.success_rate,
            "consecutive_successes": self.consecutive_successes,
            "days_in_mode": self.days_in_mode,
        }


def rate_of(successes: int, runs: int) -> float:
    """Success rate in percent (0 with no runs)."""
    # One division of exact integers, so a rate exactly at a threshold like 99.9 compares equal.
    return 100 * successes / runs if runs else 0.0


def metrics_since(
    outcomes: Iterable[tuple[str, datetime]], mode_since: datetime, now: datetime
) -> StepMetrics:
    """Metrics from (status, ended_at) pairs in any order; runs ending before `mode_since` are
    ignored (a run ending exactly at the change belongs to the new mode), as are not-counted ones."""
    counted = sorted(
        (ended_at, outcome is RunOutcome.SUCCESS)
        for status, ended_at in outcomes
        if ended_at >= mode_since and (outcome := outcome_of(status)) is not RunOutcome.NOT_COUNTED
    )
    return StepMetrics.from_runs([success for _, success in counted], days_in_mode(mode_since, now))


def days_in_mode(mode_since: datetime, now: datetime) -> float:
    return max(0.0, (now - mode_since).total_seconds() / SECONDS_PER_DAY)


def mode_above(impact: ImpactLevel, mode: DeploymentMode) -> DeploymentMode | None:
    """One hop up the impact's path, or None at the ceiling or for a mode off the path."""
    path = PROMOTION_PATH[impact]
    if mode not in path:
        return None
    index = path.index(mode)
    return path[index + 1] if index + 1 < len(path) else None


def mode_below(impact: ImpactLevel, mode: DeploymentMode) -> DeploymentMode | None:
    """One hop down toward the impact's default, or None at the default or off the path."""
    path = PROMOTION_PATH[impact]
    if mode not in path:
        return None
    index = path.index(mode)
    return path[index - 1] if index > 0 else None


def is_automatic(mode: DeploymentMode) -> bool:
    """Modes that run without a person, and so are watched for demotion."""
    return not mode.needs_approval


@dataclass(frozen=True)
class CriterionProgress:
    name: str
    label: str
    current: float
    required: float
    met: bool
    display: str


@dataclass(frozen=True)
class PromotionStatus:
    criteria: tuple[CriterionProgress, ...]
    promotion_ready: bool
    next_mode: DeploymentMode | None
    # Policy only: False for always_manual or auto_promote off (not about readiness or ceiling).
    automatic_allowed: bool


def _floor_1(value: float) -> str:
    # Round down so a value just short of its threshold never displays as reaching it.
    return str(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_FLOOR))


def _number(value: float) -> str:
    return f"{value:g}"


def _percent(value: float) -> str:
    # A threshold shows as written: 98.0, 99.9, or an override such as 95.25.
    return f"{value:.1f}" if round(value, 1) == value else f"{value:g}"


def _mark(met: bool) -> str:
    return "✓" if met else "✗"


def criteria_progress(
    criteria: PromotionCriteria, metrics: StepMetrics
) -> tuple[CriterionProgress, ...]:
    """Each promotion criterion's current value against its minimum ("min" means ≥)."""
    rate_met = metrics.success_rate >= criteria.min_success_rate
    runs_met = metrics.successes >= criteria.min_successful_runs
    days_met = metrics.days_in_mode >= criteria.min_days_in_mode
    streak_met = metrics.consecutive_successes >= criteria.min_consecutive_successes
    return (
        CriterionProgress(
            "min_success_rate",
            CRITERION_LABELS["min_success_rate"],
            metrics.success_rate,
            criteria.min_success_rate,
            rate_met,
            f"{_floor_1(metrics.success_rate)}% / {_percent(criteria.min_success_rate)}%"
            f" {_mark(rate_met)}",
        ),
        CriterionProgress(
            "min_successful_runs",
            CRITERION_LABELS["min_successful_runs"],
            metrics.successes,
            criteria.min_successful_runs,
            runs_met,
            f"{metrics.successes} / {criteria.min_successful_runs} {_mark(runs_met)}",
        ),
        CriterionProgress(
            "min_days_in_mode",
            CRITERION_LABELS["min_days_in_mode"],
            metrics.days_in_mode,
            criteria.min_days_in_mode,
            days_met,
            f"{_floor_1(metrics.days_in_mode)} / {_number(criteria.min_days_in_mode)} days"
            f" {_mark(days_met)}",
        ),
        CriterionProgress(
            "min_consecutive_successes",
            CRITERION_LABELS["min_consecutive_successes"],
            metrics.consecutive_successes,
            criteria.min_consecutive_successes,
            streak_met,
            f"{metrics.consecutive_successes} / {criteria.min_consecutive_successes}"
            f" {_mark(streak_met)}",
        ),
    )


def promotion_status(
    mode: DeploymentMode,
    impact: ImpactLevel,
    criteria: PromotionCriteria,
    metrics: StepMetrics,
    auto_promote: bool,
) -> PromotionStatus:
    """Progress toward the next mode; ready means every criterion met and a next mode exists."""
    progress = criteria_progress(criteria, metrics)
    next_mode = mode_above(impact, mode)
    return PromotionStatus(
        criteria=progress,
        promotion_ready=next_mode is not None and all(item.met for item in progress),
        next_mode=next_mode,
        automatic_allowed=auto_promote and mode is not DeploymentMode.ALWAYS_MANUAL,
    )


@dataclass(frozen=True)
class ModeChange:
    from_mode: DeploymentMode
    to_mode: DeploymentMode
    reason: str
    kind: Literal["promotion", "demotion"]
    automatic: bool = True


def decide_mode_change(
    mode: DeploymentMode,
    impact: ImpactLevel,
    criteria: PromotionCriteria,
    metrics: StepMetrics,
    auto_promote: bool,
) -> ModeChange | None:
    """The automatic change due now, if any: demotion is checked first and ignores auto_promote."""
    lower = mode_below(impact, mode)
    window = criteria.demotion_window
    if is_automatic(mode) and lower is not None and metrics.total_runs >= window:
        recent = metrics.recent_success_rate(window)
        if recent < criteria.min_success_rate:
            return ModeChange(
                from_mode=mode,
                to_mode=lower,
                reason=(
                    f"success rate {_floor_1(recent)}% over the last {window} runs"
                    f" is below {_percent(criteria.min_success_rate)}%"
                ),
                kind="demotion",
            )
    status = promotion_status(mode, impact, criteria, metrics, auto_promote)
    if status.promotion_ready and status.automatic_allowed and status.next_mode is not None:
        return ModeChange(
            from_mode=mode,
            to_mode=status.next_mode,
            reason=(
                f"all criteria met: {metrics.successes} successful runs,"
                f" {_floor_1(metrics.success_rate)}% success,"
                f" {metrics.consecutive_successes} consecutive,"
                f" {metrics.days_in_mode:.1f} days"
            ),
            kind="promotion",
        )
    return None


# Least to most automated, to tell a manual promotion from a demotion even off the path.
_AUTOMATION_RANK = {
    DeploymentMode.ALWAYS_MANUAL: 0,
    DeploymentMode.VALIDATION_REQUIRED: 1,
    DeploymentMode.AUTO_MONITORED: 2,
    DeploymentMode.ALWAYS_AUTO: 3,
}


def manual_change(
    mode: DeploymentMode, impact: ImpactLevel, target: DeploymentMode, reason: str
) -> ModeChange:
    """An admin's change to any mode on the impact's path, any distance; raises ModeChangeRefused."""
    path = PROMOTION_PATH[impact]
    if target not in path:
        allowed = ", ".join(path)
        raise ModeChangeRefused(
            f"{target} is not allowed for a {impact} step; allowed modes: {allowed}"
        )
    if target is mode:
        raise ModeChangeRefused(f"the step is already in {mode}")
    if is_blank(reason):  # invisible characters only (a zero-width space...) are no reason
        raise ModeChangeRefused(f"a reason is required to change {mode} → {target}")
    kind: Literal["promotion", "demotion"] = (
        "promotion" if _AUTOMATION_RANK[target] > _AUTOMATION_RANK[mode] else "demotion"
    )
    return ModeChange(mode, target, normalised(reason), kind, automatic=False)


def manual_target(
    impact: ImpactLevel, mode: DeploymentMode, to_mode: str, direction: str
) -> DeploymentMode:
    """Where an admin's change by hand goes: `to_mode` when named, else one hop along the path
    in `direction` ("promote" or "demote"); raises ModeChangeRefused for an unknown mode or a
    hop past either end of the path."""
    path = PROMOTION_PATH[impact]
    if to_mode:
        try:
            return DeploymentMode(to_mode)
        except ValueError:
            allowed = ", ".join(m.value for m in path)
            raise ModeChangeRefused(
                f"unknown mode {to_mode!r}; allowed for this step: {allowed}"
            ) from None
    hop = (mode_above if direction == "promote" else mode_below)(impact, mode)
    if hop is None:
        end = "top" if direction == "promote" else "bottom"
        raise ModeChangeRefused(f"{mode} is the {end} of the {impact} path ({' → '.join(path)})")
    return hop


def not_automatic_because(
    mode: DeploymentMode, impact: ImpactLevel, auto_promote: bool, status: PromotionStatus
) -> str:
    """Why no automatic promotion will come (the ceiling, always_manual, auto-promote off), or
    "" when one will once the criteria hold."""
    if status.next_mode is None:
        path = " → ".join(PROMOTION_PATH[impact])
        return f"{mode} is the ceiling of the {impact} path ({path})"
    if mode is DeploymentMode.ALWAYS_MANUAL:
        return "always_manual is never promoted automatically; an admin may promote it by hand"
    if not auto_promote:
        return "auto-promote is off for this step"
    return ""


def change_snapshot(metrics: StepMetrics, criteria: PromotionCriteria) -> dict[str, Any]:
    """The metrics and criteria recorded with a mode-change audit event."""
    window = criteria.demotion_window
    return {
        **metrics.snapshot(),
        "recent_success_rate": metrics.recent_success_rate(window),
        "demotion_window": window,
        "criteria": asdict(criteria),
    }
