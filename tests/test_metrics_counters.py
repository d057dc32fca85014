"""The /metrics counters kept by a trigger on step_runs (step_run_outcomes,
decision_latency_buckets) say exactly what a direct GROUP BY over step_runs says — after
inserts, a retried record, a waiting row overwritten by its outcome, rewrites, a run moved to
another step, a delete and the migration's backfill — and the histogram falls back to a scan
when asked for bounds the counters were not cut at."""

from __future__ import annotations

import runpy

import pytest

from app.db.metrics import product_counts
from app.db.records import Records
from app.db.tables import StepRun
from app.observability.metrics import DECISION_LATENCY_BOUNDS
from app.settings import REPO_ROOT

MIGRATION = runpy.run_path(
    str(REPO_ROOT / "migrations" / "stepladder_2026_11_30t10_40_00_000000.py")
)
WORKFLOW = "customer_onboarding"
FINALS = "('completed', 'failed', 'rejected', 'expired', 'skipped')"


async def record(key: str, step: str, status: str, mode: str = "manual") -> None:
    """Write the run's record as the engine's record activity does (an idempotent upsert)."""
    await Records().upsert_step_run(
        key, execution_id=key.split("/")[0], workflow_id=WORKFLOW, step_id=step, mode=mode,
        status=status, started_at=None, ended_at=None, duration_ms=5, summary="", error="",
    )  # fmt: skip


async def set_decision(key: str, seconds: float | None) -> None:
    await StepRun.update({StepRun.decision_seconds: seconds}).where(StepRun.run_key == key)


# An approved step's records as they may land: waiting, running (its action started), its outcome,
# then the earlier two again, late (a retried activity after an outage): they change nothing.
LATE_RECORDS = ["waiting_approval", "running", "completed", "running", "waiting_approval"]

Latency = tuple[str, str, int, float, tuple[int, ...]]  # workflow, step, n, seconds, within


async def direct(bounds: tuple[float, ...]) -> tuple[list[tuple[str, ...]], list[Latency]]:
    """Outcomes and latencies counted over every run, as /metrics did before the counters."""
    outcomes = await StepRun.raw(
        "SELECT workflow_id, step_id, mode, status, count(*) AS n FROM step_runs "
        f"WHERE status IN {FINALS} GROUP BY 1, 2, 3, 4"
    )
    within = ", ".join(f"count(*) FILTER (WHERE decision_seconds <= {b!r})" for b in bounds)
    latencies = await StepRun.raw(
        "SELECT workflow_id, step_id, count(*) AS n, sum(decision_seconds) AS total, "
        f"ARRAY[{within}]::bigint[] AS within FROM step_runs "
        "WHERE decision_seconds IS NOT NULL GROUP BY 1, 2"
    )
    found = [(r["workflow_id"], r["step_id"], r["mode"], r["status"], r["n"]) for r in outcomes]
    timed = [(r["workflow_id"], r["step_id"], r["n"], r["total"], r["within"]) for r in latencies]
    return sorted(found), sorted((w, s, n, t, tuple(le)) for w, s, n, t, le in timed)


async def assert_counters_match(bounds: tuple[float, ...] = DECISION_LATENCY_BOUNDS) -> None:
    counts = await product_counts(bounds, 10)
    outcomes, latencies = await direct(bounds)
    assert sorted(counts.outcomes) == outcomes
    got = sorted(
        (c.workflow_id, c.step_id, c.count, c.total_seconds, c.within) for c in counts.latencies
    )
    assert [(w, s, n, within) for w, s, n, _, within in got] == [
        (w, s, n, within) for w, s, n, _, within in latencies
    ]
    assert [total for *_, total, _ in got] == pytest.approx([total for *_, total, _ in latencies])


async def seed_history() -> None:
    """Runs of three steps in every final status and mode, latencies on and between the bounds,
    then the writes the engine and people make again."""
    statuses = ["completed", "failed", "rejected", "expired", "skipped", "cancelled", "running"]
    latencies = [0.0, 4.9, 5.0, 5.1, 59.0, 600.0, 86400.0, 90000.5, None]
    for n in range(60):
        key, step = f"e{n}/s{n % 3}", f"s{n % 3}"
        await record(key, step, statuses[n % 7], mode="supervised" if n % 2 else "manual")
        await set_decision(key, latencies[n % 9])
    await record("e1/s1", "s1", "failed", mode="supervised")  # a retried record
    await record("e1/s1", "s1", "failed", mode="supervised")  # and again
    await record("w1/s0", "s0", "waiting_approval")  # waiting: not counted yet
    await record("w1/s0", "s0", "completed")  # its outcome
    await set_decision("w1/s0", 12.5)
    await record("w1/s0", "s0", "completed")  # the outcome retried: counted once
    for status in LATE_RECORDS:
        await record("w2/s1", "s1", status)
    await record("e2/s2", "s2", "completed", mode="auto")  # an outcome and its mode rewritten
    await set_decision("e3/s0", 7200.0)  # a latency rewritten into another bucket
    await set_decision("e4/s1", None)  # and one taken away
    for key, step in [("e5/s2", "s0"), ("e6/s0", "s1"), ("e9/s0", "s2")]:  # runs moved
        await StepRun.update({StepRun.step_id: step}).where(StepRun.run_key == key)


async def test_counters_equal_a_direct_group_by_through_retries_rewrites_and_deletes(
    database_url: str,
) -> None:
    await assert_counters_match()  # nothing recorded yet
    await seed_history()
    await assert_counters_match()
    outcomes, latencies = await direct(DECISION_LATENCY_BOUNDS)
    assert len({o[3] for o in outcomes}) == 5 and len(latencies) == 3
    assert sum(n - within[-1] for _, _, n, _, within in latencies) > 0  # some above the last bound
    await StepRun.delete().where(StepRun.run_key.is_in(["e1/s1", "e6/s0", "w1/s0"]))
    await assert_counters_match()
    await StepRun.delete(force=True)
    counts = await product_counts(DECISION_LATENCY_BOUNDS, 10)
    assert counts.outcomes == [] and counts.latencies == []


async def test_a_step_runs_row_never_goes_back_to_an_earlier_record(database_url: str) -> None:
    seen = []
    for status in LATE_RECORDS:
        await record("w2/s1", "s1", status)
        row = await StepRun.select(StepRun.status).where(StepRun.run_key == "w2/s1").first()
        assert row is not None
        seen.append(row["status"])
    assert seen == ["waiting_approval", "running", "completed", "completed", "completed"]
    await assert_counters_match()


async def test_the_migrations_backfill_counts_the_runs_recorded_before_it(
    database_url: str,
) -> None:
    await seed_history()
    await StepRun.raw("DELETE FROM step_run_outcomes")
    await StepRun.raw("DELETE FROM decision_latency_buckets")
    for _ in range(2):  # running it again changes nothing
        await StepRun.raw(MIGRATION["OUTCOMES_BACKFILL"])
        await StepRun.raw(MIGRATION["LATENCY_BACKFILL"])
        await assert_counters_match()


async def test_bounds_other_than_the_counters_are_counted_over_the_runs(
    database_url: str,
) -> None:
    assert MIGRATION["BOUNDS"] == DECISION_LATENCY_BOUNDS  # today's scrape reads the counters
    await seed_history()
    await assert_counters_match((1.0, 5.0, 100.0))
    await assert_counters_match(DECISION_LATENCY_BOUNDS[:-1])


async def test_the_big_seed_leaves_the_counters_right(database_url: str) -> None:
    from bench.seed_big import seed  # its triggers are off while it inserts, then backfilled

    await seed(database_url, executions=300, step_runs=900, waiting=40)
    await StepRun.update({StepRun.decision_seconds: 42.0}).where(StepRun.status == "rejected")
    outcomes, _ = await direct(DECISION_LATENCY_BOUNDS)
    assert sum(n for *_, n in outcomes) == 780  # (300 - 40) executions x 3 runs
    await assert_counters_match()
