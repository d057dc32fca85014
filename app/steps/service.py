"""Step modes in PostgreSQL: promotion and demotion after each outcome, admins' edits and mode
changes (version-checked), the mode-change audit trail, analytics and fault injection."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.db.tables import FaultInjection, ModeChangeEvent, StepConfig, StepRun
from app.domain.definitions import WorkflowDefinition
from app.domain.modes import PROMOTION_PATH, DeploymentMode, ImpactLevel
from app.domain.promotion import (
    CRITERION_LABELS,
    CriteriaError,
    ModeChange,
    ModeChangeRefused,
    PromotionCriteria,
    PromotionStatus,
    StepMetrics,
    criteria_for,
    days_in_mode,
    decide_mode_change,
    estimated_days_until_promotion,
    manual_change,
    mode_above,
    mode_below,
    promotion_status,
    recent_runs_per_day,
    validate_overrides,
)
from app.domain.step_charts import (
    FinishedRun,
    ModeMark,
    RateChart,
    RunsPerDayChart,
    rate_chart,
    runs_per_day_chart,
)
from app.steps.seeding import seed_step_configs

log = logging.getLogger("stepladder.promotions")

# The statuses a step run ends in; waiting_approval (and running) rows are still open.
FINAL_STATUSES = ("completed", "failed", "rejected", "expired", "skipped")
AUTOMATIC_ACTORS = ("promotion", "demotion")
CHART_HISTORY_DAYS = 90


class UnknownStep(LookupError):
    def __init__(self, workflow_id: str, step_id: str) -> None:
        super().__init__(f"workflow {workflow_id!r} has no step {step_id!r}")


class InvalidStepConfig(ValueError):
    """An edit that cannot be saved; `errors` maps each form field to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(self.errors.values()))


class EditConflict(RuntimeError):
    """The step changed since the editor loaded it (`version` moved on); `current` is what is
    saved now, so the editor can compare before saving again."""

    def __init__(self, current: StepSettings) -> None:
        self.current = current
        who = current.updated_by or "someone"
        if who in AUTOMATIC_ACTORS:
            doing = f"an automatic {who} changed this step"
        else:
            doing = f"{who} changed this step"
        super().__init__(f"{doing} while you were editing; here are the current values")


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

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StepSettings:
        overrides = row["criteria"]
        if isinstance(overrides, str):
            overrides = json.loads(overrides)
        return cls(
            workflow_id=row["workflow_id"],
            step_id=row["step_id"],
            impact=ImpactLevel(row["impact"]),
            mode=DeploymentMode(row["mode"]),
            auto_promote=bool(row["auto_promote"]),
            overrides=dict(overrides or {}),
            mode_since=row["mode_since"],
            version=int(row["version"]),
            updated_by=row["updated_by"],
        )

    @property
    def criteria(self) -> PromotionCriteria:
        try:
            return criteria_for(self.impact, self.overrides)
        except CriteriaError as exc:
            # Only a hand-edited row gets here (saves are validated): judge by the defaults.
            log.warning("step %s/%s has bad criteria (%s)", self.workflow_id, self.step_id, exc)
            return criteria_for(self.impact)

    @property
    def allowed_modes(self) -> tuple[DeploymentMode, ...]:
        return PROMOTION_PATH[self.impact]

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow_id": self.workflow_id,
            "step_id": self.step_id,
            "impact": self.impact.value,
            "mode": self.mode.value,
            "allowed_modes": [mode.value for mode in self.allowed_modes],
            "auto_promote": self.auto_promote,
            "criteria": self.overrides,
            "effective_criteria": asdict(self.criteria),
            "mode_since": self.mode_since.isoformat(),
            "version": self.version,
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True)
class StepConfigEdit:
    """What an admin submits for one step. `criteria` holds the overrides (values as entered,
    checked here); `version` is the one the admin saw."""

    version: int
    impact: str
    mode: str
    auto_promote: bool
    criteria: Mapping[str, object] = field(default_factory=dict)
    reason: str = ""


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


# --- reading ---------------------------------------------------------------------------------


async def _row(workflow_id: str, step_id: str, *, lock: bool = False) -> StepSettings | None:
    rows = await StepConfig.raw(
        "SELECT * FROM step_configs WHERE workflow_id = {} AND step_id = {}"
        + (" FOR UPDATE" if lock else ""),
        workflow_id,
        step_id,
    )
    return StepSettings.from_row(rows[0]) if rows else None


async def load_settings(definition: WorkflowDefinition) -> dict[str, StepSettings]:
    """Every step's settings, in definition order; a step added since `migrate` gets its row."""
    await seed_step_configs([definition])
    rows = await StepConfig.raw("SELECT * FROM step_configs WHERE workflow_id = {}", definition.id)
    by_step = {row["step_id"]: StepSettings.from_row(row) for row in rows}
    return {step.id: by_step[step.id] for step in definition.steps if step.id in by_step}


async def _settings_or_unknown(definition: WorkflowDefinition, step_id: str) -> StepSettings:
    settings = (await load_settings(definition)).get(step_id)
    if settings is None:
        raise UnknownStep(definition.id, step_id)
    return settings


async def _finished_runs(workflow_id: str, step_id: str, since: datetime) -> list[FinishedRun]:
    rows = await StepRun.raw(
        "SELECT status, ended_at, mode FROM step_runs WHERE workflow_id = {} AND step_id = {} "
        "AND ended_at >= {} AND status IN ('completed', 'failed', 'rejected', 'expired', "
        "'skipped') ORDER BY ended_at",
        workflow_id, step_id, since,
    )  # fmt: skip
    return [FinishedRun(row["status"], row["ended_at"], row["mode"]) for row in rows]


async def _metrics(settings: StepSettings, now: datetime) -> StepMetrics:
    """The step's record since its mode started, counted by PostgreSQL — the same numbers as
    `metrics_since` over every run (tests/test_promotion_service.py checks they agree), read
    in one query whose cost does not grow with the rows it counts."""
    rows = await StepRun.raw(_METRICS_SQL, settings.workflow_id, settings.step_id,
                             settings.mode.value, settings.mode_since,
                             settings.criteria.demotion_window)  # fmt: skip
    row = rows[0]
    return StepMetrics(
        total_runs=row["total"],
        successes=row["successes"],
        consecutive_successes=row["streak"],
        recent_runs=tuple(row["recent"] or ()),
        days_in_mode=days_in_mode(settings.mode_since, now),
    )


# Finished runs since the mode started that ran in that mode (a run that began before a change,
# say waiting for approval, is not the new mode's evidence). Ordered as metrics_since orders
# them — by end time, a failure before a success at the same instant — for the streak (successes
# after the last failure) and the most recent runs (the demotion window).
_METRICS_SQL = """
WITH runs AS (
    SELECT status = 'completed' AS success, ended_at FROM step_runs
    WHERE workflow_id = {} AND step_id = {} AND mode = {} AND ended_at >= {}
      AND status IN ('completed', 'failed', 'rejected')
), last_failure AS (
    SELECT max(ended_at) AS at FROM runs WHERE NOT success
)
SELECT count(*) AS total,
       count(*) FILTER (WHERE success) AS successes,
       count(*) FILTER (WHERE success AND ended_at >= coalesce(
           (SELECT at FROM last_failure), '-infinity'::timestamptz)) AS streak,
       (SELECT array_agg(success ORDER BY ended_at, success) FROM (
           SELECT success, ended_at FROM runs ORDER BY ended_at DESC, success DESC LIMIT {}
       ) AS latest) AS recent
FROM runs
"""


def _snapshot(metrics: StepMetrics, criteria: PromotionCriteria) -> dict[str, Any]:
    window = criteria.demotion_window
    return {
        **metrics.snapshot(),
        "recent_success_rate": metrics.recent_success_rate(window),
        "demotion_window": window,
        "criteria": asdict(criteria),
    }


# --- changing --------------------------------------------------------------------------------


async def _apply_mode_change(
    settings: StepSettings,
    change: ModeChange,
    *,
    kind: str,
    changed_by: str,
    metrics: StepMetrics,
    now: datetime,
) -> None:
    """Move the step to `change.to_mode` (restarting its counters) and write the audit event;
    the caller holds the row lock inside a transaction."""
    await StepConfig.raw(
        "UPDATE step_configs SET mode = {}, mode_since = {}, version = version + 1, "
        "updated_by = {} WHERE workflow_id = {} AND step_id = {}",
        change.to_mode.value, now, changed_by, settings.workflow_id, settings.step_id,
    )  # fmt: skip
    await ModeChangeEvent.raw(
        "INSERT INTO mode_changes (workflow_id, step_id, from_mode, to_mode, kind, changed_by, "
        "reason, metrics, changed_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}::jsonb, {})",
        settings.workflow_id, settings.step_id, change.from_mode.value, change.to_mode.value,
        kind, changed_by, change.reason, json.dumps(_snapshot(metrics, settings.criteria)), now,
    )  # fmt: skip
    log.info(
        "step %s/%s: %s %s → %s by %s (%s)",
        settings.workflow_id, settings.step_id, kind, change.from_mode, change.to_mode,
        changed_by, change.reason,
    )  # fmt: skip


async def evaluate_after_outcome(
    workflow_id: str, step_id: str, now: datetime | None = None
) -> ModeChange | None:
    """Promote or demote the step if its record in the current mode says so; called after every
    recorded outcome. Safe to repeat: the row is locked while deciding, and a change restarts the
    counters, so a second call (a retried activity, a concurrent run) finds nothing to do."""
    now = now or datetime.now(UTC)
    async with StepConfig._meta.db.transaction():
        try:
            settings = await _row(workflow_id, step_id, lock=True)
        except ValueError as exc:
            # A hand-edited row with an unknown mode or impact: the engine falls back to the
            # definition's default; retrying this activity forever would stall the execution.
            log.warning("step %s/%s not evaluated: %s", workflow_id, step_id, exc)
            return None
        if settings is None:
            return None  # not configured: it runs in its definition's default mode
        metrics = await _metrics(settings, now)
        change = decide_mode_change(
            settings.mode, settings.impact, settings.criteria, metrics, settings.auto_promote
        )
        if change is not None:
            await _apply_mode_change(
                settings, change, kind=change.kind, changed_by=change.kind, metrics=metrics, now=now
            )
        return change


async def save_config(
    definition: WorkflowDefinition, step_id: str, edit: StepConfigEdit, user: str
) -> StepSettings:
    """Save an admin's edit of one step. Raises EditConflict when the step changed since the
    admin loaded it, InvalidStepConfig for values out of range or a mode off the impact's path.
    A new mode restarts the counters and is audited as a manual change with its reason."""
    now = datetime.now(UTC)
    async with StepConfig._meta.db.transaction():
        await _settings_or_unknown(definition, step_id)
        current = await _row(definition.id, step_id, lock=True)
        assert current is not None
        if edit.version != current.version:
            raise EditConflict(current)
        errors = _edit_errors(edit, current)
        if errors:
            raise InvalidStepConfig(errors)
        impact, mode = ImpactLevel(edit.impact), DeploymentMode(edit.mode)
        overrides = {
            name: edit.criteria[name] for name in CRITERION_LABELS if name in edit.criteria
        }
        unchanged = (impact, mode, edit.auto_promote, overrides) == (
            current.impact, current.mode, current.auto_promote, current.overrides
        )  # fmt: skip
        if unchanged:
            return current
        await StepConfig.raw(
            "UPDATE step_configs SET impact = {}, auto_promote = {}, criteria = {}::jsonb, "
            "version = version + 1, updated_by = {} WHERE workflow_id = {} AND step_id = {}",
            impact.value, edit.auto_promote, json.dumps(overrides), user, definition.id, step_id,
        )  # fmt: skip
        if mode is not current.mode:
            metrics = await _metrics(current, now)
            change = manual_change(current.mode, impact, mode, edit.reason)
            await _apply_mode_change(
                current, change, kind="manual", changed_by=user, metrics=metrics, now=now
            )
        saved = await _row(definition.id, step_id)
        assert saved is not None
        return saved


def _edit_errors(edit: StepConfigEdit, current: StepSettings) -> dict[str, str]:
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
        elif mode is not current.mode and not edit.reason.strip():
            errors["reason"] = f"say why the mode changes from {current.mode} to {mode}"
    errors.update(validate_overrides(dict(edit.criteria)))
    return errors


async def change_mode(
    definition: WorkflowDefinition,
    step_id: str,
    user: str,
    *,
    to_mode: str = "",
    reason: str = "",
    direction: str = "promote",
) -> tuple[ModeChange, StepSettings]:
    """An admin's promotion or demotion by hand, whatever the criteria say: to `to_mode`, or one
    hop along the path in `direction`. Raises ModeChangeRefused when the path does not allow it."""
    now = datetime.now(UTC)
    async with StepConfig._meta.db.transaction():
        await _settings_or_unknown(definition, step_id)
        current = await _row(definition.id, step_id, lock=True)
        assert current is not None
        if to_mode:
            try:
                target = DeploymentMode(to_mode)
            except ValueError:
                allowed = ", ".join(m.value for m in current.allowed_modes)
                raise ModeChangeRefused(
                    f"unknown mode {to_mode!r}; allowed for this step: {allowed}"
                ) from None
        else:
            hop = (mode_above if direction == "promote" else mode_below)(
                current.impact, current.mode
            )
            if hop is None:
                end = "top" if direction == "promote" else "bottom"
                raise ModeChangeRefused(
                    f"{current.mode} is the {end} of the {current.impact} path"
                    f" ({' → '.join(current.allowed_modes)})"
                )
            target = hop
        word = "promoted" if direction == "promote" else "demoted"
        change = manual_change(
            current.mode, current.impact, target, reason or f"{word} by {user} by hand"
        )
        metrics = await _metrics(current, now)
        await _apply_mode_change(
            current, change, kind="manual", changed_by=user, metrics=metrics, now=now
        )
        saved = await _row(definition.id, step_id)
        assert saved is not None
        return change, saved


# --- analytics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModeHistoryEntry:
    id: int
    step_id: str
    from_mode: DeploymentMode
    to_mode: DeploymentMode
    kind: str
    changed_by: str
    reason: str
    metrics: dict[str, Any]
    changed_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "step_id": self.step_id,
            "from_mode": self.from_mode.value,
            "to_mode": self.to_mode.value,
            "kind": self.kind,
            "changed_by": self.changed_by,
            "reason": self.reason,
            "metrics": self.metrics,
            "changed_at": self.changed_at.isoformat(),
        }


async def mode_history(
    workflow_id: str, step_id: str = "", after_id: int = 0
) -> list[ModeHistoryEntry]:
    """Mode changes, newest first: one step's, or every step's of the workflow."""
    rows = await ModeChangeEvent.raw(
        "SELECT * FROM mode_changes WHERE workflow_id = {} AND (step_id = {} OR {} = '') "
        "AND id > {} ORDER BY changed_at DESC, id DESC",
        workflow_id, step_id, step_id, after_id,
    )  # fmt: skip
    return [
        ModeHistoryEntry(
            id=row["id"],
            step_id=row["step_id"],
            from_mode=DeploymentMode(row["from_mode"]),
            to_mode=DeploymentMode(row["to_mode"]),
            kind=row["kind"],
            changed_by=row["changed_by"],
            reason=row["reason"],
            metrics=json.loads(row["metrics"])
            if isinstance(row["metrics"], str)
            else row["metrics"],
            changed_at=row["changed_at"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class StepAnalytics:
    settings: StepSettings
    criteria: PromotionCriteria
    metrics: StepMetrics  # in the current mode; restarts with every mode change
    status: PromotionStatus
    estimated_days: float | None
    runs_per_day: float
    not_automatic_because: str  # why no automatic promotion will come, or ""
    all_time_runs: int
    all_time_successes: int
    history: list[ModeHistoryEntry]
    rate_chart: RateChart | None
    day_chart: RunsPerDayChart
    fault_rate: float | None

    @property
    def all_time_success_rate(self) -> float:
        return 100 * self.all_time_successes / self.all_time_runs if self.all_time_runs else 0.0


def _not_automatic_because(settings: StepSettings, status: PromotionStatus) -> str:
    if status.next_mode is None:
        path = " → ".join(settings.allowed_modes)
        return f"{settings.mode} is the ceiling of the {settings.impact} path ({path})"
    if settings.mode is DeploymentMode.ALWAYS_MANUAL:
        return "always_manual is never promoted automatically; an admin may promote it by hand"
    if not settings.auto_promote:
        return "auto-promote is off for this step"
    return ""


async def _status_of(settings: StepSettings, now: datetime) -> tuple[StepMetrics, PromotionStatus]:
    metrics = await _metrics(settings, now)
    status = promotion_status(
        settings.mode, settings.impact, settings.criteria, metrics, settings.auto_promote
    )
    return metrics, status


async def step_overview(
    definition: WorkflowDefinition,
) -> dict[str, tuple[StepSettings, StepMetrics, PromotionStatus]]:
    """For the configuration page: each step's settings with its promotion status."""
    now = datetime.now(UTC)
    overview = {}
    for step_id, settings in (await load_settings(definition)).items():
        metrics, status = await _status_of(settings, now)
        overview[step_id] = (settings, metrics, status)
    return overview


async def analytics(
    definition: WorkflowDefinition, step_id: str, now: datetime | None = None
) -> StepAnalytics:
    now = now or datetime.now(UTC)
    settings = await _settings_or_unknown(definition, step_id)
    metrics, status = await _status_of(settings, now)
    runs = await _finished_runs(definition.id, step_id, now - timedelta(days=CHART_HISTORY_DAYS))
    outcomes = [(run.status, run.ended_at) for run in runs]
    per_day = recent_runs_per_day(outcomes, now)
    reason = _not_automatic_because(settings, status)
    estimate = (
        None if reason else estimated_days_until_promotion(metrics, settings.criteria, per_day)
    )
    history = await mode_history(definition.id, step_id)
    counts = await StepRun.raw(
        "SELECT count(*) FILTER (WHERE status IN ('completed', 'failed', 'rejected')) AS runs, "
        "count(*) FILTER (WHERE status = 'completed') AS successes "
        "FROM step_runs WHERE workflow_id = {} AND step_id = {}",
        definition.id, step_id,
    )  # fmt: skip
    criteria = settings.criteria
    return StepAnalytics(
        settings=settings,
        criteria=criteria,
        metrics=metrics,
        status=status,
        estimated_days=None if estimate is None or math.isinf(estimate) else estimate,
        runs_per_day=per_day,
        not_automatic_because=reason,
        all_time_runs=int(counts[0]["runs"]),
        all_time_successes=int(counts[0]["successes"]),
        history=history,
        rate_chart=rate_chart(
            runs,
            (ModeMark(h.changed_at, h.from_mode, h.to_mode, h.kind) for h in history),
            criteria.demotion_window,
            criteria.min_success_rate,
        ),
        day_chart=runs_per_day_chart(runs, now.date()),
        fault_rate=await fault_rate(definition.id, step_id),
    )


# --- fault injection -------------------------------------------------------------------------


async def fault_rate(workflow_id: str, step_id: str) -> float | None:
    row = (
        await FaultInjection.select(FaultInjection.failure_rate)
        .where((FaultInjection.workflow_id == workflow_id) & (FaultInjection.step_id == step_id))
        .first()
    )
    return float(row["failure_rate"]) if row else None


async def set_fault(
    definition: WorkflowDefinition, step_id: str, failure_rate: float, user: str
) -> None:
    """Make the step's action fail on purpose at `failure_rate` (0-1) until cleared."""
    await _settings_or_unknown(definition, step_id)
    if not (0.0 <= failure_rate <= 1.0) or math.isnan(failure_rate):
        raise InvalidStepConfig(
            {"failure_rate": f"failure_rate must be between 0 and 1, got {failure_rate!r}"}
        )
    await FaultInjection.raw(
        "INSERT INTO fault_injections (workflow_id, step_id, failure_rate, set_by, set_at) "
        "VALUES ({}, {}, {}, {}, {}) ON CONFLICT (workflow_id, step_id) DO UPDATE SET "
        "failure_rate = EXCLUDED.failure_rate, set_by = EXCLUDED.set_by, set_at = EXCLUDED.set_at",
        definition.id, step_id, failure_rate, user, datetime.now(UTC),
    )  # fmt: skip
    log.warning(
        "fault injection: %s/%s fails %.0f%% of runs (set by %s)",
        definition.id, step_id, failure_rate * 100, user,
    )  # fmt: skip


async def clear_fault(definition: WorkflowDefinition, step_id: str) -> None:
    await _settings_or_unknown(definition, step_id)
    await FaultInjection.delete().where(
        (FaultInjection.workflow_id == definition.id) & (FaultInjection.step_id == step_id)
    )
