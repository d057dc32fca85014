"""Request and response bodies of the steps JSON API (SPEC §5), as /schema shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain.criteria import PromotionCriteria
from app.domain.definitions import StepDefinition
from app.domain.modes import DeploymentMode, ImpactLevel
from app.domain.promotion import CriterionProgress, ModeChange
from app.domain.step_config import ModeHistoryEntry, StepSettings
from app.steps.analytics import StepAnalytics

# --- requests ---------------------------------------------------------------------------------


@dataclass
class StepConfigUpdate:
    """A step configuration edit: `version` as read; omitted fields keep their value; `criteria`
    replaces all overrides (an empty object means the impact's defaults throughout)."""

    version: int
    impact: str | None = None
    mode: str | None = None
    auto_promote: bool | None = None
    criteria: dict[str, Any] | None = None
    reason: str = ""


@dataclass
class ModeChangeRequest:
    """`to_mode` defaults to one hop along the path; `reason` is recorded in the audit trail."""

    to_mode: str = ""
    reason: str = ""


@dataclass
class FaultInjectionRequest:
    """Fraction (0-1) of the step's runs whose action fails on purpose."""

    failure_rate: float


# --- responses --------------------------------------------------------------------------------


@dataclass
class StepConfigResponse:
    """A step's saved configuration; send `version` back with a PUT. `criteria` holds the
    overrides, `effective_criteria` what the step is judged by (the impact's defaults under
    them)."""

    step_name: str
    workflow_id: str
    step_id: str
    impact: ImpactLevel
    mode: DeploymentMode
    allowed_modes: list[DeploymentMode]
    auto_promote: bool
    criteria: dict[str, float | int]
    effective_criteria: PromotionCriteria
    mode_since: str  # ISO 8601
    version: int
    updated_by: str

    @classmethod
    def of(cls, step_name: str, settings: StepSettings) -> StepConfigResponse:
        return cls(
            step_name=step_name,
            workflow_id=settings.workflow_id,
            step_id=settings.step_id,
            impact=settings.impact,
            mode=settings.mode,
            allowed_modes=list(settings.allowed_modes),
            auto_promote=settings.auto_promote,
            criteria=settings.overrides,
            effective_criteria=settings.criteria,
            mode_since=settings.mode_since.isoformat(),
            version=settings.version,
            updated_by=settings.updated_by,
        )


@dataclass
class ModeChangeEntry:
    """One mode change in the audit trail, with the metrics and criteria at that moment."""

    id: int
    step_id: str
    from_mode: DeploymentMode
    to_mode: DeploymentMode
    kind: str  # promotion, demotion or manual
    changed_by: str
    reason: str
    metrics: dict[str, Any]
    changed_at: str  # ISO 8601

    @classmethod
    def of(cls, entry: ModeHistoryEntry) -> ModeChangeEntry:
        return cls(
            id=entry.id,
            step_id=entry.step_id,
            from_mode=entry.from_mode,
            to_mode=entry.to_mode,
            kind=entry.kind,
            changed_by=entry.changed_by,
            reason=entry.reason,
            metrics=entry.metrics,
            changed_at=entry.changed_at.isoformat(),
        )


@dataclass
class StepMetricsBody:
    """The step's record in its current mode (every counter restarts with a mode change)."""

    total_runs: int
    success_rate: float
    consecutive_successes: int
    successes: int
    failures: int
    days_in_mode: float
    recent_success_rate: float  # over the last `demotion_window` runs
    demotion_window: int


@dataclass
class CriterionProgressBody:
    label: str
    current: float
    required: float
    met: bool
    display: str  # "127 / 200 ✗"

    @classmethod
    def of(cls, item: CriterionProgress) -> CriterionProgressBody:
        return cls(item.label, item.current, item.required, item.met, item.display)


@dataclass
class AllTimeRecord:
    total_runs: int
    successes: int
    success_rate: float


@dataclass
class FaultInjectionBody:
    failure_rate: float


@dataclass
class StepAnalyticsResponse:
    """SPEC §5's analytics shape (its seven fields first), then what the analytics page shows."""

    step_id: str
    step_name: str
    current_mode: DeploymentMode
    metrics: StepMetricsBody
    promotion_ready: bool
    criteria_progress: dict[str, CriterionProgressBody]
    estimated_promotion_in_days: float | None
    workflow_id: str
    impact: ImpactLevel
    auto_promote: bool
    mode_since: str  # ISO 8601
    next_mode: DeploymentMode | None
    automatic_promotion: bool
    not_automatic_because: str | None
    recent_runs_per_day: float
    all_time: AllTimeRecord
    fault_injection: FaultInjectionBody | None
    mode_history: list[ModeChangeEntry]

    @classmethod
    def of(cls, step: StepDefinition, a: StepAnalytics) -> StepAnalyticsResponse:
        m, window = a.metrics, a.criteria.demotion_window
        return cls(
            step_id=step.id,
            step_name=step.name,
            current_mode=a.settings.mode,
            metrics=StepMetricsBody(
                total_runs=m.total_runs,
                success_rate=m.success_rate,
                consecutive_successes=m.consecutive_successes,
                successes=m.successes,
                failures=m.failures,
                days_in_mode=m.days_in_mode,
                recent_success_rate=m.recent_success_rate(window),
                demotion_window=window,
            ),
            promotion_ready=a.status.promotion_ready,
            criteria_progress={
                item.name: CriterionProgressBody.of(item) for item in a.status.criteria
            },
            estimated_promotion_in_days=(
                None if a.estimated_days is None else round(a.estimated_days, 2)
            ),
            workflow_id=a.settings.workflow_id,
            impact=a.settings.impact,
            auto_promote=a.settings.auto_promote,
            mode_since=a.settings.mode_since.isoformat(),
            next_mode=a.status.next_mode,
            automatic_promotion=not a.not_automatic_because,
            not_automatic_because=a.not_automatic_because or None,
            recent_runs_per_day=a.runs_per_day,
            all_time=AllTimeRecord(a.all_time_runs, a.all_time_successes, a.all_time_success_rate),
            fault_injection=None if a.fault_rate is None else FaultInjectionBody(a.fault_rate),
            mode_history=[ModeChangeEntry.of(entry) for entry in a.history],
        )


@dataclass
class ModeChangeResponse:
    """A change by hand: from and to which mode, why, by whom; the step's mode and version now."""

    step_id: str
    from_mode: DeploymentMode
    to_mode: DeploymentMode
    reason: str
    changed_by: str
    current_mode: DeploymentMode
    version: int

    @classmethod
    def of(
        cls, step_id: str, change: ModeChange, user: str, saved: StepSettings
    ) -> ModeChangeResponse:
        return cls(
            step_id=step_id,
            from_mode=change.from_mode,
            to_mode=change.to_mode,
            reason=change.reason,
            changed_by=user,
            current_mode=saved.mode,
            version=saved.version,
        )


@dataclass
class FaultInjectionResponse:
    workflow_id: str
    step_id: str
    failure_rate: float
