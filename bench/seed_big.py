"""Seed a big history into a bench database quickly (issue 16): N executions of the customer
onboarding, R step runs spread over them (completed, some failed or rejected, ended over the
last 90 days) and W running executions waiting for approval at Create CRM Record (each with a
preview summary) — all with INSERT ... SELECT over generate_series, then ANALYZE.

`seed(database_url, executions=, step_runs=, waiting=)` for other benchmarks;
`.venv/bin/python -m bench.seed_big DATABASE_URL [--executions N] [--step-runs R] [--waiting W]`
seeds an existing (migrated) database. The counters kept by triggers (step_run_days,
workflow_execution_counts) are filled by their migrations' backfills after the inserts.
"""

from __future__ import annotations

import argparse
import asyncio
import runpy
import time
from dataclasses import dataclass

import asyncpg

from app.settings import REPO_ROOT

WORKFLOW = "customer_onboarding"
WAITING_STEP = "create_crm_record"
STEPS = [
    "validate_email", "check_duplicates", "create_crm_record", "setup_billing_account",
    "send_welcome_email",
]  # fmt: skip

_EXECUTIONS = """
INSERT INTO executions (execution_id, workflow_id, workflow_name, definition_hash, status, input,
                        started_by, started_at, ended_at, outcome)
SELECT 'big-' || g, $1, 'Customer Onboarding', 'bench',
       CASE WHEN g <= $3 THEN 'running' ELSE 'completed' END,
       jsonb_build_object('name', 'Customer ' || g, 'email', 'c' || g || '@example.com',
                          'tier', 'basic'),
       (ARRAY['bob', 'carol', 'ada'])[1 + g % 3],
       now() - make_interval(secs => g * 77.0),
       CASE WHEN g <= $3 THEN NULL ELSE now() - make_interval(secs => g * 77.0 - 30) END,
       CASE WHEN g <= $3 THEN '' ELSE 'completed' END
FROM generate_series(1, $2) AS g
"""

# Finished runs: execution e gets runs k = 1..per (steps in turn); `ended_at` from the
# execution's start plus k seconds. The waiting executions' runs of the waiting step are left
# out here (they are the waiting rows below).
_FINISHED_RUNS = """
INSERT INTO step_runs (run_key, execution_id, workflow_id, step_id, mode, status, started_at,
                       ended_at, duration_ms)
SELECT 'big-' || e || '/' || k, 'big-' || e, $1, ($4::text[])[1 + (k - 1) % cardinality($4)],
       'manual', CASE WHEN (e + k) % 23 = 0 THEN 'failed'
                      WHEN (e + k) % 29 = 0 THEN 'rejected' ELSE 'completed' END,
       now() - make_interval(secs => e * 77.0 - k), now() - make_interval(secs => e * 77.0 - k),
       5
FROM generate_series($3 + 1, $2) AS e, generate_series(1, $5) AS k
"""

_WAITING_RUNS = """
INSERT INTO step_runs (run_key, execution_id, workflow_id, step_id, mode, status, waiting_since)
SELECT 'big-' || e || '/' || $2, 'big-' || e, $1, $2, 'manual', 'waiting_approval',
       now() - make_interval(secs => e * 7.0)
FROM generate_series(1, $3) AS e
"""

_PREVIEWS = """
INSERT INTO step_previews (run_key, execution_id, workflow_id, step_id, summary)
SELECT 'big-' || e || '/' || $1, 'big-' || e, $3, $1,
       'CREATE crm.contacts c' || e || '@example.com'
FROM generate_series(1, $2) AS e
"""


_TRIGGERS = (
    "ALTER TABLE executions {0} TRIGGER workflow_execution_counts_count;"
    " ALTER TABLE step_runs {0} TRIGGER step_run_days_count;"
    " ALTER TABLE step_runs {0} TRIGGER step_run_tallies_count"
)
_COUNTER_MIGRATIONS = ("2026_11_30t10_00_00", "2026_11_30t10_20_00", "2026_11_30t10_40_00")


def _backfills() -> list[str]:
    """The BACKFILL statements of the migrations that add the counters."""
    return [
        runpy.run_path(str(REPO_ROOT / "migrations" / f"stepladder_{stamp}_000000.py"))["BACKFILL"]
        for stamp in _COUNTER_MIGRATIONS
    ]


@dataclass(frozen=True)
class Seeded:
    """What was seeded, counted afterwards in the database, and how long it took."""

    executions: int
    step_runs: int
    waiting: int
    seconds: float


async def seed(
    database_url: str,
    *,
    executions: int = 100_000,
    step_runs: int = 1_000_000,
    waiting: int = 10_000,
) -> Seeded:
    """Add the big history to `database_url` (migrated, without big-* rows yet). `step_runs` is
    rounded to a whole number per finished execution."""
    started = time.monotonic()
    per = max(1, (step_runs - waiting) // max(1, executions - waiting))
    connection = await asyncpg.connect(database_url)
    try:
        # The counters' row triggers would cost a row upsert per seeded row: off while seeding,
        # then the migrations' backfills count everything at once (as on an upgraded database).
        await connection.execute(_TRIGGERS.format("DISABLE"))
        await connection.execute(_EXECUTIONS, WORKFLOW, executions, waiting)
        await connection.execute(_FINISHED_RUNS, WORKFLOW, executions, waiting, STEPS, per)
        await connection.execute(_WAITING_RUNS, WORKFLOW, WAITING_STEP, waiting)
        await connection.execute(_TRIGGERS.format("ENABLE"))
        for backfill in _backfills():
            await connection.execute(backfill)
        await connection.execute(_PREVIEWS, WAITING_STEP, waiting, WORKFLOW)
        await connection.execute(
            "ANALYZE executions; ANALYZE step_runs; ANALYZE step_previews;"
            " ANALYZE step_run_days; ANALYZE workflow_execution_counts; ANALYZE step_run_outcomes;"
            " ANALYZE decision_latency_buckets"
        )
        counts = await connection.fetchrow(
            "SELECT (SELECT count(*) FROM executions) AS executions,"
            " (SELECT count(*) FROM step_runs) AS step_runs,"
            " (SELECT count(*) FROM step_runs WHERE status = 'waiting_approval') AS waiting"
        )
    finally:
        await connection.close()
    assert counts is not None
    return Seeded(counts["executions"], counts["step_runs"], counts["waiting"],
                  time.monotonic() - started)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--step-runs", type=int, default=1_000_000)
    parser.add_argument("--waiting", type=int, default=10_000)
    args = parser.parse_args()
    print(asyncio.run(seed(args.database_url, executions=args.executions,
                           step_runs=args.step_runs, waiting=args.waiting)))  # fmt: skip


if __name__ == "__main__":
    main()
