"""`GET /api/workflows`' execution_count and last_executed_at come from per-workflow counters
kept by a trigger on executions (issue 16): they equal a GROUP BY over executions through a
repeated insert (the engine's idempotent start record), a deletion and the migration's
backfill."""

from __future__ import annotations

import runpy
from datetime import UTC, datetime, timedelta
from typing import Any

from app.db.executions import execution_counts
from app.db.records import Records
from app.db.tables import Execution, WorkflowExecutionCount
from app.settings import REPO_ROOT

MIGRATION = REPO_ROOT / "migrations" / "stepladder_2026_11_30t10_20_00_000000.py"
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def grouped() -> dict[str, tuple[int, Any]]:
    rows = await Execution.raw(
        "SELECT workflow_id, count(*) AS runs, max(started_at) AS last FROM executions"
        " GROUP BY workflow_id"
    )
    return {row["workflow_id"]: (row["runs"], row["last"]) for row in rows}


async def start(execution_id: str, workflow_id: str, minutes: int) -> None:
    await Records().insert_execution(
        execution_id, workflow_id=workflow_id, workflow_name="W", definition_hash="h", input={},
        started_by="bob", started_at=START + timedelta(minutes=minutes),
    )  # fmt: skip


async def test_counters_equal_a_group_by_through_repeats_and_deletions(database_url: str) -> None:
    for n in range(12):
        await start(f"a{n}", "customer_onboarding" if n % 3 else "order_processing", 40 - n)
    await start("a1", "customer_onboarding", 99)  # recorded again by a retried activity
    await Records().finish_execution("a2", status="completed", outcome="done", ended_at=START)
    assert await execution_counts() == await grouped()
    assert (await execution_counts())["customer_onboarding"][0] == 8

    await Execution.delete().where(Execution.execution_id.is_in(["a1", "a0"]))
    assert await execution_counts() == await grouped()
    await Execution.delete().where(Execution.workflow_id == "order_processing")
    assert "order_processing" not in await execution_counts()


async def test_the_migrations_backfill_counts_executions_recorded_before_it(
    database_url: str,
) -> None:
    for n in range(5):
        await start(f"b{n}", "expense_approval", n)
    await WorkflowExecutionCount.delete(force=True)
    assert await execution_counts() == {}
    backfill = runpy.run_path(str(MIGRATION))["BACKFILL"]
    await WorkflowExecutionCount.raw(backfill)
    await WorkflowExecutionCount.raw(backfill)
    assert await execution_counts() == await grouped()
    assert (await execution_counts())["expense_approval"] == (5, START + timedelta(minutes=4))
