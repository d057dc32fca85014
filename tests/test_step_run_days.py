"""The per-day counters of step-run outcomes (step_run_days, kept by a trigger) say exactly what
a direct count over step_runs says — through retried records, a waiting row overwritten by its
outcome, an outcome rewritten, a deletion and the migration's backfill — and the analytics'
counts read from them equal the direct counts over any range, partial days included."""

from __future__ import annotations

import runpy
from datetime import UTC, date, datetime, timedelta

from app.db import step_run_days
from app.db.records import Records
from app.db.tables import StepRun, StepRunDay
from app.settings import REPO_ROOT

WORKFLOW, STEP = "customer_onboarding", "create_crm_record"
NOW = datetime(2026, 11, 30, 9, 41, 7, 123456, tzinfo=UTC)
MIGRATION = REPO_ROOT / "migrations" / "stepladder_2026_11_30t10_00_00_000000.py"


async def record(key: str, status: str, ended_at: datetime | None, mode: str = "manual") -> None:
    """Write the run's record as the engine's record activity does (an idempotent upsert)."""
    await Records().upsert_step_run(
        key, execution_id=key.split("/")[0], workflow_id=WORKFLOW, step_id=STEP, mode=mode,
        status=status, started_at=ended_at, ended_at=ended_at, duration_ms=5, summary="",
        error="",
    )  # fmt: skip


async def direct_day_counts(since: datetime, until: datetime) -> dict[date, tuple[int, int]]:
    """Per UTC day (successes, failures or rejections), counted over every run."""
    tally: dict[date, list[int]] = {}
    for run in await StepRun.select().where(
        (StepRun.workflow_id == WORKFLOW) & (StepRun.step_id == STEP)
    ):
        ended = run["ended_at"]
        if run["status"] not in ("completed", "failed", "rejected") or ended is None:
            continue
        if since <= ended < until:
            counts = tally.setdefault(ended.astimezone(UTC).date(), [0, 0])
            counts[0 if run["status"] == "completed" else 1] += 1
    return {day: (s, f) for day, (s, f) in tally.items()}


async def direct_all_time() -> tuple[int, int]:
    runs = await StepRun.select().where(
        (StepRun.workflow_id == WORKFLOW) & (StepRun.step_id == STEP)
    )
    counted = [r for r in runs if r["status"] in ("completed", "failed", "rejected")]
    return len(counted), sum(r["status"] == "completed" for r in counted)


async def seed_history() -> None:
    """Runs over five days (ends of days and the same instant included), then the writes the
    engine makes again: a retried record, a waiting row that gets its outcome, a rewrite."""
    for n in range(40):
        at = NOW - timedelta(hours=n * 3, minutes=n)
        status = "failed" if n % 7 == 0 else "rejected" if n % 11 == 0 else "completed"
        await record(f"e{n}/{STEP}", status, at, mode="supervised" if n % 2 else "manual")
    midnight = datetime(2026, 11, 28, tzinfo=UTC)
    await record(f"m0/{STEP}", "completed", midnight)  # exactly at a day's start
    await record(f"m1/{STEP}", "failed", midnight - timedelta(microseconds=1))
    await record(f"e3/{STEP}", "completed", NOW - timedelta(hours=9, minutes=3))  # retried
    await record(f"e3/{STEP}", "completed", NOW - timedelta(hours=9, minutes=3))  # again
    await record(f"w1/{STEP}", "waiting_approval", None)  # waiting: not counted yet
    await record(f"w1/{STEP}", "completed", NOW - timedelta(minutes=1))  # its outcome
    await record(f"w1/{STEP}", "waiting_approval", None)  # a late waiting record: ignored
    await record(f"e5/{STEP}", "failed", NOW - timedelta(days=2))  # an outcome rewritten
    await record(f"x1/{STEP}", "expired", NOW - timedelta(hours=1))  # not counted
    await record(f"e9/{STEP}", "completed", NOW)  # a run at the very instant of `now`


async def test_counters_equal_a_direct_count_through_retries_and_rewrites(
    database_url: str,
) -> None:
    await seed_history()
    for since, until in [
        (NOW - timedelta(days=14), NOW),
        (datetime(2026, 11, 17, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        (NOW - timedelta(hours=5), NOW),  # within one day
        (NOW - timedelta(days=1, hours=2), NOW - timedelta(hours=1)),
        (datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)),
    ]:
        assert await step_run_days.day_counts(WORKFLOW, STEP, since, until) == (
            await direct_day_counts(since, until)
        ), (since, until)
        between = await direct_day_counts(since + timedelta(microseconds=1), until)
        on_until = await direct_day_counts(until, until + timedelta(microseconds=1))
        expected = sum(s + f for s, f in [*between.values(), *on_until.values()])
        assert await step_run_days.counted_between(WORKFLOW, STEP, since, until) == expected
    assert await step_run_days.all_time_counts(WORKFLOW, STEP) == await direct_all_time()
    runs, successes = await direct_all_time()
    assert runs == 43  # 40, the two at midnight, the waiting one's outcome; e3 once
    assert successes < runs


async def test_a_deleted_run_leaves_the_counters(database_url: str) -> None:
    await seed_history()
    await StepRun.delete().where(StepRun.run_key == f"e1/{STEP}")
    assert await step_run_days.all_time_counts(WORKFLOW, STEP) == await direct_all_time()


async def test_the_migrations_backfill_counts_the_runs_recorded_before_it(
    database_url: str,
) -> None:
    await seed_history()
    expected = await step_run_days.all_time_counts(WORKFLOW, STEP)
    await StepRunDay.delete(force=True)
    assert await step_run_days.all_time_counts(WORKFLOW, STEP) == (0, 0)
    backfill = runpy.run_path(str(MIGRATION))["BACKFILL"]
    await StepRunDay.raw(backfill)
    await StepRunDay.raw(backfill)  # running it again changes nothing
    assert await step_run_days.all_time_counts(WORKFLOW, STEP) == expected
    since = NOW - timedelta(days=14)
    assert await step_run_days.day_counts(WORKFLOW, STEP, since, NOW) == (
        await direct_day_counts(since, NOW)
    )
