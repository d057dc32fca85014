"""Reads of the executions record for the web's listings and the approvals inbox."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.db.tables import ApprovalDecision, Execution, StepRun, WorkflowExecutionCount
from app.domain.statuses import ExecutionStatus, StepStatus

# The engine records a step run as `waiting_approval` when the step starts waiting, as `running`
# once approved (when its action starts) and overwrites the row with its final status last; a
# row of a finished execution that still says waiting (cancelled while waiting) is not waiting
# for anybody. A waiting row has no
# started_at (the action has not run): it waits since `waiting_since`, stamped when recorded.
# The preview activity records the summary line of what the step will do (step_previews).
_WAITING_STEPS_SQL = f"""
SELECT s.execution_id, s.workflow_id, s.step_id,
       COALESCE(s.waiting_since, s.started_at) AS started_at,
       e.workflow_name, e.started_by, e.input, COALESCE(p.summary, '') AS preview_summary
FROM step_runs s JOIN executions e ON e.execution_id = s.execution_id
LEFT JOIN step_previews p ON p.run_key = s.run_key
WHERE s.status = '{StepStatus.WAITING_APPROVAL.value}' AND e.status = '{ExecutionStatus.RUNNING.value}'
ORDER BY COALESCE(s.waiting_since, s.started_at) NULLS LAST, s.id
"""


# One page of an inbox in PostgreSQL: the caller's decidable steps come as arrays (workflow id,
# step id, approval timeout in seconds), so the database computes each item's expiry, keeps only
# those steps and applies the keyset (expires_at, waiting since, execution id, step id) with a
# LIMIT; ids compare byte-wise (COLLATE "C") as Python compares strings. Unknown times sort last.
# Within one step the expiry is its waiting start plus the step's timeout, so each step's items
# come in the order of the partial index step_runs_waiting_by_step (workflow, step, since,
# execution): one LIMITed read per step, merged and LIMITed again — the cost grows with the steps
# and the page size, not with the waiting runs. Steps no definition names (shown when asked;
# they never expire) are found by skipping through that index's distinct (workflow, step) pairs.
# The cursor's "never" (Python's datetime.max) reaches PostgreSQL as 'infinity' (asyncpg): LEAST
# turns it into FAR, the year-9999 instant rows sort by, so a page can start after such an item.
_FAR = "'9999-12-31 23:59:59.999999+00'::timestamptz"
_WAITING_PAGE_SQL = """
WITH RECURSIVE steps AS (
    SELECT * FROM unnest({}::text[], {}::text[], {}::float8[], {}::bool[])
        AS t(workflow_id, step_id, timeout, decidable)
), pos AS (
    SELECT LEAST({}::timestamptz, FAR) AS expires, LEAST({}::timestamptz, FAR) AS since,
           {}::text COLLATE "C" AS eid,
           {}::text COLLATE "C" AS sid, {}::bool AS unknown_steps, {}::text AS only, {}::int AS n
), waiting_pairs AS (
    (SELECT s.workflow_id, s.step_id FROM step_runs s, pos
     WHERE pos.unknown_steps AND s.status = 'WAITING' ORDER BY 1, 2 LIMIT 1)
    UNION ALL
    SELECT next.* FROM waiting_pairs wp CROSS JOIN LATERAL (
        SELECT s.workflow_id, s.step_id FROM step_runs s
        WHERE s.status = 'WAITING' AND (s.workflow_id, s.step_id) > (wp.workflow_id, wp.step_id)
        ORDER BY 1, 2 LIMIT 1
    ) AS next
), shown AS (
    SELECT st.workflow_id, st.step_id, st.timeout FROM steps st, pos
    WHERE st.decidable AND (pos.only = '' OR st.workflow_id = pos.only)
    UNION ALL
    SELECT wp.workflow_id, wp.step_id, NULL FROM waiting_pairs wp, pos
    WHERE (pos.only = '' OR wp.workflow_id = pos.only) AND NOT EXISTS (
        SELECT 1 FROM steps st WHERE st.workflow_id = wp.workflow_id AND st.step_id = wp.step_id)
), w AS (
    SELECT picked.* FROM shown st CROSS JOIN pos CROSS JOIN LATERAL (
        SELECT s.execution_id COLLATE "C" AS execution_id, s.workflow_id,
               s.step_id COLLATE "C" AS step_id, COALESCE(s.waiting_since, s.started_at) AS started_at,
               EXPIRES AS expires_key, SINCE AS since_key,
               e.workflow_name, e.started_by, e.input, s.run_key
        FROM step_runs s JOIN executions e ON e.execution_id = s.execution_id
        WHERE s.status = 'WAITING' AND e.status = 'RUNNING'
          AND s.workflow_id = st.workflow_id AND s.step_id = st.step_id AND SINCE BOUND
          AND (EXPIRES, SINCE, s.execution_id COLLATE "C", s.step_id COLLATE "C")
              OP (pos.expires, pos.since, pos.eid, pos.sid)
        ORDER BY SINCE WAY, s.execution_id COLLATE "C" WAY
        LIMIT pos.n
    ) AS picked
)
SELECT w.*, COALESCE(p.summary, '') AS preview_summary FROM (
    SELECT * FROM w ORDER BY expires_key WAY, since_key WAY, execution_id WAY, step_id WAY
    LIMIT (SELECT n FROM pos)
) AS w LEFT JOIN step_previews p ON p.run_key = w.run_key
ORDER BY expires_key WAY, since_key WAY, execution_id WAY, step_id WAY
"""
_WAITING_PAGE_SQL = (
    _WAITING_PAGE_SQL.replace("EXPIRES", "COALESCE(SINCE_OR_NULL + make_interval(secs => st.timeout), FAR)")
    .replace("SINCE_OR_NULL", "COALESCE(s.waiting_since, s.started_at)")
    .replace("SINCE", "COALESCE(s.waiting_since, s.started_at, FAR)")
    .replace("'WAITING'", f"'{StepStatus.WAITING_APPROVAL.value}'")
    .replace("'RUNNING'", f"'{ExecutionStatus.RUNNING.value}'")
)  # fmt: skip
# The bound on a step's waiting start that its index can seek to, implied by the keyset on the
# expiry (a step without a timeout expires never: year 9999).
_EARLIEST = "COALESCE(pos.expires - make_interval(secs => st.timeout), '-infinity')"
_PAGE_FORWARD = (
    _WAITING_PAGE_SQL.replace("BOUND", f">= {_EARLIEST}").replace("OP", ">").replace("WAY", "ASC")
).replace("FAR", _FAR)
_PAGE_BACKWARD = (
    _WAITING_PAGE_SQL.replace("BOUND", f"<= CASE WHEN pos.expires >= FAR THEN FAR ELSE {_EARLIEST} END")
    .replace("OP", "<").replace("WAY", "DESC")
).replace("FAR", _FAR)  # fmt: skip


@dataclass(frozen=True)
class InboxQuery:
    """Which waiting steps an inbox page shows. `steps`: every defined step as (workflow id,
    step id, approval timeout in seconds, whether the reader may decide it and the filters keep
    it); `unknown_steps`: whether steps no definition names are shown (their expiry unknown);
    `workflow_id`: only that workflow ("" = any)."""

    steps: Collection[tuple[str, str, float, bool]]
    unknown_steps: bool
    workflow_id: str = ""


async def waiting_page(
    query: InboxQuery,
    key: tuple[datetime, datetime, str, str],
    limit: int,
    *,
    backward: bool = False,
) -> list[dict[str, Any]]:
    """Up to `limit` waiting steps of running executions that `query` keeps, with
    `expires_key` / `since_key` (unknown: year 9999): those just after `key` (expires, since,
    execution id, step id), soonest expiry first — or, `backward`, those just before it,
    nearest first. Rows as `waiting_steps` answers them."""
    columns: list[list[Any]] = [[], [], [], []]
    for step in query.steps:
        for column, value in zip(columns, step, strict=True):
            column.append(value)
    rows: list[dict[str, Any]] = await StepRun.raw(
        _PAGE_BACKWARD if backward else _PAGE_FORWARD,
        *columns, *key, query.unknown_steps, query.workflow_id, limit,
    )  # fmt: skip
    for row in rows:  # raw queries answer JSONB as text
        if isinstance(row["input"], str):
            row["input"] = json.loads(row["input"])
    return rows


async def waiting_steps_among(among: Collection[str]) -> dict[str, set[str]]:
    """Per execution id in `among`, the ids of its step runs recorded as waiting for approval
    (executions with none are absent)."""
    if not among:
        return {}
    rows = await StepRun.select(StepRun.execution_id, StepRun.step_id).where(
        (StepRun.status == StepStatus.WAITING_APPROVAL.value)
        & StepRun.execution_id.is_in(list(among))
    )
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row["execution_id"], set()).add(row["step_id"])
    return found


async def latest_executions(
    limit: int,
    *,
    status: str = "",
    workflow_id: str = "",
    running_among: Collection[str] | None = None,
    waiting_only: bool = False,
    before: tuple[datetime, int] | None = None,
    after: tuple[datetime, int] | None = None,
) -> list[dict[str, Any]]:
    """Execution rows, newest start first (ties: highest id first); empty filters do not filter.
    `running_among` keeps only running executions with those ids; `waiting_only` only running
    executions with a step waiting for approval (a sub-select on the partial index). Keyset paging on
    (started_at, id): `before` keeps rows older than that key; `after` the `limit` rows just
    newer than it (still answered newest first), so a page stays put when rows are inserted."""
    newest_first = after is None
    query = (
        Execution.select()
        .order_by(Execution.started_at, Execution._meta.primary_key, ascending=not newest_first)
        .limit(limit)
    )
    if before is not None:
        query = query.where(
            (Execution.started_at < before[0])
            | ((Execution.started_at == before[0]) & (Execution._meta.primary_key < before[1]))
        )
    if after is not None:
        query = query.where(
            (Execution.started_at > after[0])
            | ((Execution.started_at == after[0]) & (Execution._meta.primary_key > after[1]))
        )
    if status:
        query = query.where(Execution.status == status)
    if workflow_id:
        query = query.where(Execution.workflow_id == workflow_id)
    if running_among is not None:
        query = query.where(Execution.execution_id.is_in(sorted(running_among)))
        query = query.where(Execution.status == ExecutionStatus.RUNNING.value)
    if waiting_only:
        waiting = StepRun.select(StepRun.execution_id).where(
            StepRun.status == StepStatus.WAITING_APPROVAL.value
        )
        query = query.where(Execution.execution_id.is_in(waiting))
        query = query.where(Execution.status == ExecutionStatus.RUNNING.value)
    rows = list(await query)
    return rows if newest_first else rows[::-1]


async def latest_outcomes(limit: int) -> list[dict[str, Any]]:
    """Finished execution rows, the most recently ended first."""
    query = (
        Execution.select()
        .where(Execution.status != ExecutionStatus.RUNNING.value)
        .order_by(Execution.ended_at, ascending=False)
        .limit(limit)
    )
    return list(await query)


async def waiting_steps() -> list[dict[str, Any]]:
    """Every step run waiting for approval in a running execution, oldest first, with its
    execution's workflow name, starter and input (a dict) and the preview's summary line."""
    rows: list[dict[str, Any]] = await StepRun.raw(_WAITING_STEPS_SQL)
    for row in rows:  # raw queries answer JSONB as text
        if isinstance(row["input"], str):
            row["input"] = json.loads(row["input"])
    return rows


async def execution_counts() -> dict[str, tuple[int, Any]]:
    """Per workflow id: how many executions were recorded and when the newest one started
    (a timezone-aware datetime), from the per-workflow counters (a row per workflow, kept by a
    trigger on executions). Ids never run are absent."""
    rows = await WorkflowExecutionCount.raw(
        "SELECT workflow_id, executions, last_started_at FROM workflow_execution_counts"
        " WHERE executions > 0"
    )
    return {row["workflow_id"]: (row["executions"], row["last_started_at"]) for row in rows}


async def approvals_given(
    steps: Collection[tuple[str, str]],
) -> dict[tuple[str, str], list[str]]:
    """Who has approved each (execution id, step id) so far (accepted approvals, oldest first):
    for steps that need approvals from several people. One query; {} for no steps."""
    if not steps:
        return {}
    rows = await ApprovalDecision.raw(
        "SELECT execution_id, step_id, user_id FROM decisions WHERE accepted AND action = {} "
        "AND execution_id = ANY({}::text[]) ORDER BY decided_at, id",
        "approved", sorted({execution_id for execution_id, _ in steps}),
    )  # fmt: skip
    given: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        key = (row["execution_id"], row["step_id"])
        if key in steps:
            given.setdefault(key, []).append(row["user_id"])
    return given
