"""Promotion criteria: what a step must show before it moves up its path, the defaults per
impact (SPEC §1) and the checks on a step's overrides."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from app.domain.modes import ImpactLevel


class CriteriaError(ValueError):
    """Criteria overrides out of range; `problems` maps each bad field to its message."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(self.problems.values()))


@dataclass(frozen=True)
class PromotionCriteria:
    """What a step must show in its current mode before it moves one step up its path."""

    min_success_rate: float  # percent, 0-100
    min_successful_runs: int
    min_days_in_mode: float
    min_consecutive_successes: int
    demotion_window: int = 20

    def __post_init__(self) -> None:
        problems = validate_overrides({f.name: getattr(self, f.name) for f in fields(self)})
        if problems:
            raise CriteriaError(problems)


CRITERION_LABELS: dict[str, str] = {
    "min_success_rate": "min success rate",
    "min_successful_runs": "min successful runs",
    "min_days_in_mode": "min days in mode",
    "min_consecutive_successes": "min consecutive successes",
    "demotion_window": "demotion window",
}
_WHOLE_FIELDS = {"min_successful_runs": 0, "min_consecutive_successes": 0, "demotion_window": 1}


def validate_overrides(overrides: Mapping[str, object]) -> dict[str, str]:
    """Field → message for every override that is unknown or out of range; empty when all fine."""
    problems: dict[str, str] = {}
    allowed = ", ".join(CRITERION_LABELS)
    for name, value in overrides.items():
        if name not in CRITERION_LABELS:
            problems[name] = f"unknown criterion {name!r}; allowed: {allowed}"
            continue
        if name == "min_success_rate":
            rule = "a percentage between 0 and 100"
        elif name == "min_days_in_mode":
            rule = "a number of days ≥ 0"
        else:
            rule = f"a whole number ≥ {_WHOLE_FIELDS[name]}"
        if not _acceptable(name, value):
            problems[name] = f"{name} must be {rule}, got {value!r}"
    return problems


def _acceptable(name: str, value: object) -> bool:
    # bool is an int subclass, but True is never a sensible count or rate.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return False
    if name == "min_success_rate":
        return 0.0 <= value <= 100.0
    if name == "min_days_in_mode":
        return value >= 0
    return value == int(value) and value >= _WHOLE_FIELDS[name]


DEFAULT_CRITERIA: dict[ImpactLevel, PromotionCriteria] = {
    ImpactLevel.ACCESSORY: PromotionCriteria(95.0, 50, 3, 10),
    ImpactLevel.READ: PromotionCriteria(98.0, 100, 7, 25),
    ImpactLevel.WRITE: PromotionCriteria(98.0, 200, 14, 50),
    ImpactLevel.CRITICAL: PromotionCriteria(99.9, 500, 30, 100),
    ImpactLevel.EXTERNAL: PromotionCriteria(98.0, 200, 14, 50),
}


def criteria_for(
    impact: ImpactLevel, overrides: Mapping[str, float | int] | None = None
) -> PromotionCriteria:
    """The impact's default criteria with a step's overrides applied; raises CriteriaError."""
    base = DEFAULT_CRITERIA[impact]
    if not overrides:
        return base
    problems = validate_overrides(overrides)
    if problems:
        raise CriteriaError(problems)
    changes: dict[str, float | int] = {
        name: int(value) if name in _WHOLE_FIELDS else float(value)
        for name, value in overrides.items()
    }
    return replace(base, **changes)  # type: ignore[arg-type]
