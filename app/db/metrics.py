"""The product metrics' reads: a few grouped counts, made at scrape time in one read-only
transaction bounded by a statement timeout.

Step outcomes and decision latencies come from counters a trigger on step_runs keeps
(`step_run_outcomes`, `decision_latency_buckets`: migration 10:40), so a scrape reads a row per
step and bucket, not every run (issue 16). The latency buckets were cut at the bounds stored in
`decision_latency_bounds`; when the histogram's bounds asked for differ from those, the latencies
are counted over step_runs as before (slower, same numbers). The waiting count reads step_runs
through the partial index on waiting runs (as many rows as runs wait)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.db.tables import StepRun
from app.domain.statuses import FINAL_STEP_STATUSES, ExecutionStatus, StepStatus

_WAITING = StepStatus.WAITING_APPROVAL.value
_FINALS = ", ".join(f"'{status.value}'" for status in sorted(FINAL_STEP_STATUSES))

_WAITING_SQL = f"""
SELECT s.workflow_id, s.step_id, count(*) AS n
FROM step_runs s JOIN executions e ON e.execution_id = s.execution_id
WHERE s.status = '{_WAITING}' AND e.status = '{ExecutionStatus.RUNNING.value}'
GROUP BY s.workflow_id, s.step_id
"""

_NOTIFICATIONS_SQL = """
SELECT channel_type, kind, status, count(*) AS n, sum(failures) AS failures
FROM notification_deliveries GROUP BY channel_type, kind, status
"""

_OUTCOMES_SQL = f"""
SELECT workflow_id, step_id, mode, status, runs AS n
FROM step_run_outcomes WHERE runs > 0 AND status IN ({_FINALS})
"""

_MODE_CHANGES_SQL = """
SELECT workflow_id, step_id, kind, from_mode, to_mode, count(*) AS n
FROM mode_changes GROUP BY workflow_id, step_id, kind, from_mode, to_mode
"""

_BOUNDS_SQL = "SELECT le FROM decision_latency_bounds ORDER BY le"

# From the buckets: each holds the runs in (previous bound, le]; le <= bound sums them up.
_LATENCY_COUNTERS_SQL = """
SELECT workflow_id, step_id, sum(runs) AS n, sum(total_seconds) AS total{buckets}
FROM decision_latency_buckets GROUP BY workflow_id, step_id HAVING sum(runs) > 0
"""

# decision_seconds is written with a step's final outcome (app/db/records.py), so a counted
# latency never changes afterwards; expired waits and runs recorded before the column have none.
_LATENCY_SQL = """
SELECT workflow_id, step_id, count(*) AS n, sum(decision_seconds) AS total{buckets}
FROM step_runs WHERE decision_seconds IS NOT NULL
GROUP BY workflow_id, step_id
"""


async def _latency_sql(bounds: Sequence[float]) -> str:
    """The latency query for `bounds`: over the counters when their buckets were cut at exactly
    these bounds, else over step_runs."""
    stored = tuple(float(row["le"]) for row in await StepRun.raw(_BOUNDS_SQL))
    if stored == tuple(float(bound) for bound in bounds):
        return _LATENCY_COUNTERS_SQL.format(
            buckets="".join(
                f", COALESCE(sum(runs) FILTER (WHERE le <= {float(bound)!r}), 0) AS le_{i}"
                for i, bound in enumerate(bounds)
            )
        )
    return _LATENCY_SQL.format(
        buckets="".join(
            f", count(*) FILTER (WHERE decision_seconds <= {float(bound)!r}) AS le_{i}"
            for i, bound in enumerate(bounds)
        )
    )


@dataclass(frozen=True)
class LatencyCounts:
    """Decided waits of one step: how many, their total seconds, how many within each bound."""

    workflow_id: str
    step_id: str
    count: int
    total_seconds: float
    within: tuple[int, ...]  # cumulative, one per bound of the histogram


@dataclass(frozen=True)
class ProductCounts:
    """What the records say at one moment, grouped for the product metrics."""

    waiting: list[tuple[str, str, int]]  # workflow, step, approvals waiting
    outcomes: list[tuple[str, str, str, str, int]]  # workflow, step, mode, outcome, runs
    mode_changes: list[tuple[str, str, str, str, str, int]]  # workflow, step, kind, from, to, n
    latencies: list[LatencyCounts]
    # channel type, kind, status, notices; and failed delivery attempts in all
    notifications: list[tuple[str, str, str, int]] = field(default_factory=list)
    notification_failures: int = 0


async def product_counts(bounds: Sequence[float], timeout_seconds: float) -> ProductCounts:
    """The grouped counts, read in one transaction; PostgreSQL cancels any statement slower than
    `timeout_seconds` (the caller sees the error). `bounds`: the latency histogram's upper
    bounds in seconds, ascending."""
    async with StepRun._meta.db.transaction():
        await StepRun.raw(
            "SELECT set_config('statement_timeout', {}, true)",
            str(max(1, int(timeout_seconds * 1000))),
        )
        waiting = await StepRun.raw(_WAITING_SQL)
        outcomes = await StepRun.raw(_OUTCOMES_SQL)
        changes = await StepRun.raw(_MODE_CHANGES_SQL)
        latencies = await StepRun.raw(await _latency_sql(bounds))
        notifications = await StepRun.raw(_NOTIFICATIONS_SQL)
    return ProductCounts(
        notifications=[
            (r["channel_type"], r["kind"], r["status"], int(r["n"])) for r in notifications
        ],
        notification_failures=sum(int(r["failures"]) for r in notifications),
        waiting=[(r["workflow_id"], r["step_id"], int(r["n"])) for r in waiting],
        outcomes=[
            (r["workflow_id"], r["step_id"], r["mode"], r["status"], int(r["n"])) for r in outcomes
        ],
        mode_changes=[
            (r["workflow_id"], r["step_id"], r["kind"], r["from_mode"], r["to_mode"], int(r["n"]))
            for r in changes
        ],
        latencies=[
            LatencyCounts(
                r["workflow_id"],
                r["step_id"],
                int(r["n"]),
                float(r["total"]),
                tuple(int(r[f"le_{i}"]) for i in range(len(bounds))),
            )
            for r in latencies
        ],
    )
