"""An admin's edits and changes by hand, as pure rules: what an edit may save, where a change by
hand goes, and why a step will not be promoted automatically."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.criteria import DEFAULT_CRITERIA
from app.domain.modes import PROMOTION_PATH, DeploymentMode, ImpactLevel
from app.domain.promotion import (
    ModeChangeRefused,
    manual_change,
    manual_target,
    not_automatic_because,
    promotion_status,
)
from app.domain.step_config import (
    StepConfigEdit,
    StepSettings,
    edit_problems,
    parse_criteria_fields,
)
from tests.test_promotion import record

AUTO = DeploymentMode.ALWAYS_AUTO
MONITORED = DeploymentMode.AUTO_MONITORED
VALIDATION = DeploymentMode.VALIDATION_REQUIRED
MANUAL = DeploymentMode.ALWAYS_MANUAL


def test_admin_may_promote_always_manual_by_hand() -> None:
    change = manual_change(MANUAL, ImpactLevel.CRITICAL, VALIDATION, "  reviewed 500 runs  ")
    assert (change.from_mode, change.to_mode, change.kind) == (MANUAL, VALIDATION, "promotion")
    assert change.reason == "reviewed 500 runs"
    assert change.automatic is False


def test_admin_may_jump_to_any_mode_on_the_path_both_ways() -> None:
    up = manual_change(VALIDATION, ImpactLevel.WRITE, AUTO, "trusted")
    down = manual_change(AUTO, ImpactLevel.WRITE, VALIDATION, "incident")
    assert (up.to_mode, up.kind) == (AUTO, "promotion")
    assert (down.to_mode, down.kind) == (VALIDATION, "demotion")


def test_admin_may_not_set_critical_to_always_auto() -> None:
    with pytest.raises(ModeChangeRefused, match="always_auto") as caught:
        manual_change(MONITORED, ImpactLevel.CRITICAL, AUTO, "please")
    message = str(caught.value)
    assert "critical" in message
    for allowed in PROMOTION_PATH[ImpactLevel.CRITICAL]:
        assert allowed in message


def test_admin_may_not_pick_a_mode_off_the_path() -> None:
    with pytest.raises(ModeChangeRefused, match="always_manual"):
        manual_change(VALIDATION, ImpactLevel.WRITE, MANUAL, "stricter")
    with pytest.raises(ModeChangeRefused, match="validation_required"):
        manual_change(AUTO, ImpactLevel.READ, VALIDATION, "stricter")


def test_admin_change_needs_a_reason_and_a_different_mode() -> None:
    with pytest.raises(ModeChangeRefused, match="reason"):
        manual_change(VALIDATION, ImpactLevel.WRITE, MONITORED, "   ")
    with pytest.raises(ModeChangeRefused, match="already"):
        manual_change(VALIDATION, ImpactLevel.WRITE, VALIDATION, "no-op")
    assert issubclass(ModeChangeRefused, ValueError)


def test_a_change_by_hand_goes_one_hop_or_to_the_named_mode() -> None:
    assert manual_target(ImpactLevel.WRITE, VALIDATION, "", "promote") is MONITORED
    assert manual_target(ImpactLevel.WRITE, AUTO, "", "demote") is MONITORED
    assert manual_target(ImpactLevel.WRITE, VALIDATION, "always_auto", "promote") is AUTO
    with pytest.raises(ModeChangeRefused, match="always_auto is the top of the write path"):
        manual_target(ImpactLevel.WRITE, AUTO, "", "promote")
    with pytest.raises(ModeChangeRefused, match="always_manual is the bottom of the critical"):
        manual_target(ImpactLevel.CRITICAL, MANUAL, "", "demote")
    with pytest.raises(ModeChangeRefused, match="unknown mode 'turbo'; allowed for this step"):
        manual_target(ImpactLevel.WRITE, VALIDATION, "turbo", "promote")


def _status(mode: DeploymentMode, impact: ImpactLevel, auto_promote: bool = True) -> str:
    criteria = DEFAULT_CRITERIA[impact]
    status = promotion_status(mode, impact, criteria, record(1), auto_promote)
    return not_automatic_because(mode, impact, auto_promote, status)


def test_why_no_automatic_promotion_comes() -> None:
    assert _status(AUTO, ImpactLevel.WRITE).startswith("always_auto is the ceiling of the write")
    assert "never promoted automatically" in _status(MANUAL, ImpactLevel.CRITICAL)
    assert _status(VALIDATION, ImpactLevel.WRITE, auto_promote=False) == (
        "auto-promote is off for this step"
    )
    assert _status(VALIDATION, ImpactLevel.WRITE) == ""


SAVED = StepSettings(
    workflow_id="wf", step_id="s", impact=ImpactLevel.WRITE, mode=VALIDATION, auto_promote=True,
    overrides={}, mode_since=datetime(2026, 3, 1, tzinfo=UTC), version=3, updated_by="ada",
)  # fmt: skip


def test_an_edit_names_every_field_it_cannot_save() -> None:
    bad = StepConfigEdit(3, impact="huge", mode="turbo", auto_promote=True,
                         criteria={"min_success_rate": 101, "speed": 1})  # fmt: skip
    assert set(edit_problems(bad, SAVED)) == {"impact", "mode", "min_success_rate", "speed"}
    off_path = StepConfigEdit(3, impact="critical", mode="always_auto", auto_promote=True)
    assert "not allowed for a critical step" in edit_problems(off_path, SAVED)["mode"]
    no_reason = StepConfigEdit(3, impact="write", mode="always_auto", auto_promote=True)
    assert edit_problems(no_reason, SAVED) == {
        "reason": "say why the mode changes from validation_required to always_auto"
    }
    fine = StepConfigEdit(3, impact="write", mode="validation_required", auto_promote=False,
                          criteria={"demotion_window": 5, "min_success_rate": 90})  # fmt: skip
    assert edit_problems(fine, SAVED) == {}
    assert list(fine.overrides) == ["min_success_rate", "demotion_window"]


def test_form_text_becomes_overrides_and_blank_means_the_default() -> None:
    overrides, errors = parse_criteria_fields(
        {"min_success_rate": "97.5", "min_successful_runs": "120", "min_days_in_mode": " ",
         "demotion_window": "soon"}
    )  # fmt: skip
    assert overrides == {"min_success_rate": 97.5, "min_successful_runs": 120}
    assert isinstance(overrides["min_successful_runs"], int)
    assert errors == {"demotion_window": "demotion window must be a number, got 'soon'"}
