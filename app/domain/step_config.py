"""A step's saved configuration (impact, mode, auto-promote, criteria overrides), an admin's edit
of it with the rules it must pass, and the record of its mode changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.domain.criteria import (
    CRITERION_LABELS,
    CriteriaError,
    PromotionCriteria,
    criteria_for,
    validate_overrides,
)
from app.domain.modes import PROMOTION_PATH, DeploymentMode, ImpactLevel
from app.domain.text import is_blank


@dataclass(frozen=True)
class StepSettings:
    """A step's saved configuration (one step_configs row)."""

    workflow_id: str
    step_id: str
    impact: ImpactLevel
    mode: DeploymentMode
    auto_promote: bool
    overrides: dict[str, float | int]
    mode_since: datetime
    version: int
    updated_by: str

    @property
    def criteria(self) -> PromotionCriteria:
        try:
            return criteria_for(self.impact, self.overrides)
        except CriteriaError:
            # Only a hand-edited row gets here (saves are validated): judge by the defaults.
            return criteria_for(self.impact)

    @property
    def allowed_modes(self) -> tuple[DeploymentMode, ...]:
        return PROMOTION_PATH[self.impact]


@dataclass(frozen=True)
class StepConfigEdit:
    """What an admin submits for one step. `criteria` holds the overrides (values as entered,
    checked by `edit_problems`); `version` is the one the admin saw."""

    version: int
    impact: str
    mode: str
    auto_promote: bool
    criteria: Mapping[str, object] = field(default_factory=dict)
    reason: str = ""

    @property
    def overrides(self) -> dict[str, object]:
        """The criteria overrides the edit saves, in the criteria's order."""
        return {name: self.criteria[name] for name in CRITERION_LABELS if name in self.criteria}


def parse_criteria_fields(fields: Mapping[str, str]) -> tuple[dict[str, object], dict[str, str]]:
    """Form text → override values; a blank field means "the impact's default". Returns the
    overrides and field → message for text that is not a number."""
    overrides: dict[str, object] = {}
    errors: dict[str, str] = {}
    for name in CRITERION_LABELS:
        text = fields.get(name, "").strip()
        if not text:
            continue
        try:
            number = float(text)
        except ValueError:
            errors[name] = f"{CRITERION_LABELS[name]} must be a number, got {text!r}"
            continue
        overrides[name] = int(number) if number.is_integer() and "." not in text else number
    return overrides, errors


def edit_problems(edit: StepConfigEdit, current: StepSettings) -> dict[str, str]:
    """Field → message for every value of `edit` that cannot be saved over `current`: an unknown
    impact or mode, a mode off the impact's path, a new mode without a reason, bad criteria."""
    errors: dict[str, str] = {}
    impact: ImpactLevel | None = None
    try:
        impact = ImpactLevel(edit.impact)
    except ValueError:
        allowed = ", ".join(level.value for level in ImpactLevel)
        errors["impact"] = f"impact must be one of {allowed}, got {edit.impact!r}"
    try:
        mode = DeploymentMode(edit.mode)
    except ValueError:
        allowed = ", ".join(m.value for m in DeploymentMode)
        errors["mode"] = f"mode must be one of {allowed}, got {edit.mode!r}"
    else:
        if impact is not None and mode not in PROMOTION_PATH[impact]:
            allowed = ", ".join(PROMOTION_PATH[impact])
            errors["mode"] = f"{mode} is not allowed for a {impact} step; allowed: {allowed}"
        elif mode is not current.mode and is_blank(edit.reason):
            errors["reason"] = f"say why the mode changes from {current.mode} to {mode}"
    errors.update(validate_overrides(dict(edit.criteria)))
    return errors


@dataclass(frozen=True)
class ModeHistoryEntry:
    """One mode change of a step (one mode_changes row): automatic or by hand, with the metrics
    and criteria at that moment."""

    id: int
    step_id: str
    changed_at: datetime
    kind: str  # promotion, demotion or manual
    changed_by: str
    from_mode: DeploymentMode
    to_mode: DeploymentMode
    reason: str
    metrics: dict[str, Any]  # the record and criteria when it changed (`change_snapshot`)
