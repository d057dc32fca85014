"""Data access of the steps services: step configurations, their mode changes, the step-run
counts promotion judges, the runs analytics draw, and fault injections."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from app.db.tables import FaultInjection, ModeChangeEvent, StepConfig, StepRun
from app.domain.criteria import validate_overrides
from app.domain.definitions import WorkflowDefinition
from app.domain.modes import DeploymentMode, ImpactLevel
from app.domain.promotion import ModeChange, StepMetrics, days_in_mode
from app.domain.statuses import FINAL_STEP_STATUSES, StepStatus
from app.domain.step_charts import FinishedRun
from app.domain.step_config import ModeHistoryEntry, StepSettings

log = logging.getLogger("stepladder.promotions")

COMPLETED, FAILED, REJECTED = StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.REJECTED


@asynccontextmanager
async def transaction() -> AsyncIterator[None]:
    """One transaction around the calls below (a row lock taken by `read(..., lock=True)` is
    held until it ends)."""
    async with StepConfig._meta.db.transaction():
        yield


# --- configurations --------------------------------------------------------------------------


async def seed(definitions: Iterable[WorkflowDefinition]) -> int:
    """Insert a configuration for every step that has none yet (impact and default mode from the
    definition); existing rows, which admins and promotions change, are left alone."""
    added = 0
    for definition in definitions:
        for step in definition.steps:
            rows = await StepConfig.raw(
                "INSERT INTO step_configs (workflow_id, step_id, impact, mode) "
                "VALUES ({}, {}, {}, {}) ON CONFLICT (workflow_id, step_id) DO NOTHING "
                "RETURNING id",
                definition.id, step.id, step.impact, step.default_mode.value,
            )  # fmt: skip
            added += len(rows)
    return added


def _settings(row: Mapping[str, Any]) -> StepSettings:
    """A step_configs row as settings; raises ValueError for an unknown impact or mode."""
    overrides = row["criteria"]
    if isinstance(overrides, str):
        overrides = json.loads(overrides)
    overrides = dict(overrides or {})
    problems = validate_overrides(overrides)
    if problems:
        # Only a hand-edited row gets here (saves are validated): it is judged by the defaults.
        log.warning(
            "step %s/%s has bad criteria (%s)",
            row["workflow_id"], row["step_id"], "; ".join(problems.values()),
        )  # fmt: skip
    return StepSettings(
        workflow_id=row["workflow_id"],
        step_id=row["step_id"],
        impact=ImpactLevel(row["impact"]),
        mode=DeploymentMode(row["mode"]),
        auto_promote=bool(row["auto_promote"]),
        overrides=overrides,
        mode_since=row["mode_since"],
        version=int(row["version"]),
        updated_by=row["updated_by"],
    )


async def read(workflow_id: str, step_id: str, *, lock: bool = False) -> StepSettings | None:
    """One step's settings (locking its row until the transaction ends when `lock`); raises
    ValueError for a hand-edited row with an unknown impact or mode."""
    rows = await StepConfig.raw(
        "SELECT * FROM step_configs WHERE workflow_id = {} AND step_id = {}"
        + (" FOR UPDATE" if lock else ""),
        workflow_id,
        step_id,
    )
    return _settings(rows[0]) if rows else None


async def read_workflow(workflow_id: str) -> dict[str, StepSettings]:
    """Every configured step of the workflow, by step id."""
    rows = await StepConfig.raw("SELECT * FROM step_configs WHERE workflow_id = {}", workflow_id)
    return {row["step_id"]: _settings(row) for row in rows}


async def update(
    workflow_id: str,
    step_id: str,
    *,
    impact: ImpactLevel,
    auto_promote: bool,
    overrides: Mapping[str, object],
    updated_by: str,
) -> None:
    """Save an edit's impact, auto-promote and overrides (the mode moves by `write_mode_change`)."""
    await StepConfig.raw(
        "UPDATE step_configs SET impact = {}, auto_promote = {}, criteria = {}::jsonb, "
        "version = version + 1, updated_by = {} WHERE workflow_id = {} AND step_id = {}",
        impact.value, auto_promote, json.dumps(dict(overrides)), updated_by, workflow_id, step_id,
    )  # fmt: skip


async def write_mode_change(
    settings: StepSettings,
    change: ModeChange,
    *,
    kind: str,
    changed_by: str,
    snapshot: Mapping[str, Any],
    now: datetime,
) -> None:
    """Move the step to `change.to_mode` (restarting its counters) and write the audit event."""
    await StepConfig.raw(
        "UPDATE step_configs SET mode = {}, mode_since = {}, version = version + 1, "
        "updated_by = {} WHERE workflow_id = {} AND step_id = {}",
        change.to_mode.value, now, changed_by, settings.workflow_id, settings.step_id,
    )  # fmt: skip
    await ModeChangeEvent.raw(
        "INSERT INTO mode_changes (workflow_id, step_id, from_mode, to_mode, kind, changed_by, "
        "reason, metrics, changed_at) VALUES ({}, {}, {}, {}, {}, {}, {}, {}::jsonb, {})",
        settings.workflow_id, settings.step_id, change.from_mode.value, change.to_mode.value,
        kind, changed_by, change.reason, json.dumps(dict(snapshot)), now,
    )  # fmt: skip


async def mode_changes(
    workflow_id: str, step_id: str = "", after_id: int = 0, before_id: int = 0, limit: int = 100
) -> list[ModeHistoryEntry]:
    """Mode changes, newest first: one step's, or every step's of the workflow; at most
    `limit`, newer than change `after_id` and older than change `before_id` (keyset on
    (changed_at, id): 0 means no bound)."""
    rows = await ModeChangeEvent.raw(
        "SELECT * FROM mode_changes WHERE workflow_id = {} AND (step_id = {} OR {} = '') "
        "AND id > {} AND ({} = 0 OR (changed_at, id) < "
        "(SELECT changed_at, id FROM mode_changes WHERE id = {})) "
        "ORDER BY changed_at DESC, id DESC LIMIT {}",
        workflow_id, step_id, step_id, after_id, before_id, before_id, limit,
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


# --- step runs -------------------------------------------------------------------------------

# Finished runs since the mode started that ran in that mode (a run that began before a change,
# say waiting for approval, is not the new mode's evidence). Ordered as metrics_since orders
# them — by end time, a failure before a success at the same instant — for the streak (successes
# after the last failure) and the most recent runs (the demotion window).
_METRICS_SQL = f"""
WITH runs AS (
    SELECT status = '{COMPLETED}' AS success, ended_at FROM step_runs
    WHERE workflow_id = {{}} AND step_id = {{}} AND mode = {{}} AND ended_at >= {{}}
      AND status IN ('{COMPLETED}', '{FAILED}', '{REJECTED}')
), last_failure AS (
    SELECT max(ended_at) AS at FROM runs WHERE NOT success
)
SELECT count(*) AS total,
       count(*) FILTER (WHERE success) AS successes,
       count(*) FILTER (WHERE success AND ended_at >= coalesce(
           (SELECT at FROM last_failure), '-infinity'::timestamptz)) AS streak,
       (SELECT array_agg(success ORDER BY ended_at, success) FROM (
           SELECT success, ended_at FROM runs ORDER BY ended_at DESC, success DESC LIMIT {{}}
       ) AS latest) AS recent
FROM runs
"""


async def record_in_mode(settings: StepSettings, now: datetime) -> StepMetrics:
    """The step's record since its mode started, counted by PostgreSQL — the same numbers as
    `metrics_since` over every run (tests/test_promotion_service.py checks they agree), read
    in one query whose cost does not grow with the rows it counts."""
    rows = await StepRun.raw(_METRICS_SQL, settings.workflow_id, settings.step_id,
                             settings.mode.value, settings.mode_since,
                             settings.criteria.demotion_window)  # fmt: skip
    row = rows[0]
    return StepMetrics(
        total_runs=int(row["total"]),
        successes=int(row["successes"]),
        consecutive_successes=int(row["streak"]),
        recent_runs=tuple(row["recent"] or ()),
        days_in_mode=days_in_mode(settings.mode_since, now),
    )


_FINAL = ", ".join(f"'{status}'" for status in sorted(FINAL_STEP_STATUSES))


async def finished_runs(workflow_id: str, step_id: str, since: datetime) -> list[FinishedRun]:
    """The step's runs that ended since `since` in a final status, oldest first, any mode."""
    rows = await StepRun.raw(
        "SELECT status, ended_at, mode FROM step_runs WHERE workflow_id = {} AND step_id = {} "
        f"AND ended_at >= {{}} AND status IN ({_FINAL}) ORDER BY ended_at",
        workflow_id, step_id, since,
    )  # fmt: skip
    return [FinishedRun(row["status"], row["ended_at"], row["mode"]) for row in rows]


_COUNTED = f"('{COMPLETED}', '{FAILED}', '{REJECTED}')"


async def latest_counted_runs(
    workflow_id: str, step_id: str, since: datetime, limit: int
) -> list[FinishedRun]:
    """The step's `limit` most recent counted runs that ended since `since`, oldest first (a
    failure before a success at the same instant, as the rate chart orders them)."""
    rows = await StepRun.raw(
        "SELECT status, ended_at, mode FROM step_runs WHERE workflow_id = {} AND step_id = {} "
        f"AND ended_at >= {{}} AND status IN {_COUNTED} "
        f"ORDER BY ended_at DESC, (status = '{COMPLETED}') DESC LIMIT {{}}",
        workflow_id, step_id, since, limit,
    )  # fmt: skip
    return [FinishedRun(row["status"], row["ended_at"], row["mode"]) for row in reversed(rows)]


# --- fault injection -------------------------------------------------------------------------


async def fault_rate(workflow_id: str, step_id: str) -> float | None:
    """The share of the step's runs set to fail on purpose, or None when none is set."""
    row = (
        await FaultInjection.select(FaultInjection.failure_rate)
        .where((FaultInjection.workflow_id == workflow_id) & (FaultInjection.step_id == step_id))
        .first()
    )
    return float(row["failure_rate"]) if row else None


async def set_fault(
    workflow_id: str, step_id: str, failure_rate: float, set_by: str, now: datetime
) -> None:
    await FaultInjection.raw(
        "INSERT INTO fault_injections (workflow_id, step_id, failure_rate, set_by, set_at) "
        "VALUES ({}, {}, {}, {}, {}) ON CONFLICT (workflow_id, step_id) DO UPDATE SET "
        "failure_rate = EXCLUDED.failure_rate, set_by = EXCLUDED.set_by, set_at = EXCLUDED.set_at",
        workflow_id, step_id, failure_rate, set_by, now,
    )  # fmt: skip


async def clear_fault(workflow_id: str, step_id: str) -> None:
    await FaultInjection.delete().where(
        (FaultInjection.workflow_id == workflow_id) & (FaultInjection.step_id == step_id)
    )
