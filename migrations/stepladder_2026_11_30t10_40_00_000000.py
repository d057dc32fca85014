"""Counters of step-run outcomes and decision latencies for /metrics, kept by a trigger on
step_runs, so a scrape reads a row per step (and bucket) instead of every run (issue 16):

- `step_run_outcomes`: runs per (workflow_id, step_id, mode, status) for the final statuses
  (completed, failed, rejected, expired, skipped: app/domain/statuses.FINAL_STEP_STATUSES);
- `decision_latency_buckets`: per (workflow_id, step_id, le) the runs whose decision_seconds fell
  in the bucket (previous bound, le] — not cumulative; le = 'Infinity' above the last bound — and
  the sum of their decision_seconds;
- `decision_latency_bounds` (not a Piccolo table: the tests' clean-up must not empty it): the
  bucket bounds the trigger uses, in seconds: the histogram's
  bounds (app/observability/metrics.DECISION_LATENCY_BOUNDS) as they were when this migration was
  written. The reader (app/db/metrics.py) compares them with the app's bounds and scans
  step_runs as before when they differ; changing the app's bounds wants a migration that
  replaces these rows and runs BACKFILL again.

As with step_run_days, the trigger sees each real write (OLD and NEW): a retried record, a
rewritten outcome or a deleted run moves each counter exactly once.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-30T10:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "counters of step outcomes and decision latencies for /metrics"

# A copy, not an import: a migration must do the same thing whenever it runs.
BOUNDS = (
    5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0,
)  # fmt: skip
FINALS = "('completed', 'failed', 'rejected', 'expired', 'skipped')"

COUNTER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION step_run_tallies_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_counted boolean := TG_OP <> 'INSERT' AND OLD.status IN {FINALS};
    new_counted boolean := TG_OP <> 'DELETE' AND NEW.status IN {FINALS};
    old_timed boolean := TG_OP <> 'INSERT' AND OLD.decision_seconds IS NOT NULL;
    new_timed boolean := TG_OP <> 'DELETE' AND NEW.decision_seconds IS NOT NULL;
    same_step boolean := TG_OP = 'UPDATE' AND OLD.workflow_id = NEW.workflow_id
                         AND OLD.step_id = NEW.step_id;
BEGIN
    IF same_step AND old_counted = new_counted AND OLD.status = NEW.status
       AND OLD.mode IS NOT DISTINCT FROM NEW.mode THEN
        old_counted := false;  -- the same outcome written again: it stays counted once
        new_counted := false;
    END IF;
    IF same_step AND OLD.decision_seconds IS NOT DISTINCT FROM NEW.decision_seconds THEN
        old_timed := false;
        new_timed := false;
    END IF;
    IF old_counted THEN
        UPDATE step_run_outcomes SET runs = runs - 1
        WHERE workflow_id = OLD.workflow_id AND step_id = OLD.step_id AND mode = OLD.mode
          AND status = OLD.status;
    END IF;
    IF new_counted THEN
        INSERT INTO step_run_outcomes (workflow_id, step_id, mode, status, runs)
        VALUES (NEW.workflow_id, NEW.step_id, NEW.mode, NEW.status, 1)
        ON CONFLICT (workflow_id, step_id, mode, status) DO UPDATE
        SET runs = step_run_outcomes.runs + 1;
    END IF;
    IF old_timed THEN
        UPDATE decision_latency_buckets
        SET runs = runs - 1, total_seconds = total_seconds - OLD.decision_seconds
        WHERE workflow_id = OLD.workflow_id AND step_id = OLD.step_id
          AND le = (SELECT COALESCE(min(b.le), 'Infinity') FROM decision_latency_bounds b
                    WHERE b.le >= OLD.decision_seconds);
    END IF;
    IF new_timed THEN
        INSERT INTO decision_latency_buckets (workflow_id, step_id, le, runs, total_seconds)
        SELECT NEW.workflow_id, NEW.step_id, COALESCE(min(b.le), 'Infinity'), 1,
               NEW.decision_seconds
        FROM decision_latency_bounds b WHERE b.le >= NEW.decision_seconds
        ON CONFLICT (workflow_id, step_id, le) DO UPDATE
        SET runs = decision_latency_buckets.runs + 1,
            total_seconds = decision_latency_buckets.total_seconds + EXCLUDED.total_seconds;
    END IF;
    RETURN NULL;
END
$$
"""

# Set each counter to the count of the runs recorded (so running them again changes nothing).
OUTCOMES_BACKFILL = f"""
INSERT INTO step_run_outcomes (workflow_id, step_id, mode, status, runs)
SELECT workflow_id, step_id, mode, status, count(*) FROM step_runs
WHERE status IN {FINALS} GROUP BY 1, 2, 3, 4
ON CONFLICT (workflow_id, step_id, mode, status) DO UPDATE SET runs = EXCLUDED.runs
"""
LATENCY_BACKFILL = """
INSERT INTO decision_latency_buckets (workflow_id, step_id, le, runs, total_seconds)
SELECT s.workflow_id, s.step_id,
       COALESCE((SELECT min(b.le) FROM decision_latency_bounds b
                 WHERE b.le >= s.decision_seconds), 'Infinity') AS le,
       count(*), sum(s.decision_seconds)
FROM step_runs s WHERE s.decision_seconds IS NOT NULL GROUP BY 1, 2, 3
ON CONFLICT (workflow_id, step_id, le) DO UPDATE
SET runs = EXCLUDED.runs, total_seconds = EXCLUDED.total_seconds
"""
BACKFILL = f"{OUTCOMES_BACKFILL};\n{LATENCY_BACKFILL}"  # one script (bench/seed_big.py runs it)

STATEMENTS = [
    "CREATE TABLE IF NOT EXISTS step_run_outcomes ("
    " id SERIAL PRIMARY KEY, workflow_id VARCHAR(100) NOT NULL, step_id VARCHAR(100) NOT NULL,"
    " mode VARCHAR(32) NOT NULL, status VARCHAR(32) NOT NULL, runs BIGINT NOT NULL DEFAULT 0)",
    "CREATE UNIQUE INDEX IF NOT EXISTS step_run_outcomes_key"
    " ON step_run_outcomes (workflow_id, step_id, mode, status)",
    "CREATE TABLE IF NOT EXISTS decision_latency_bounds (le DOUBLE PRECISION PRIMARY KEY)",
    "INSERT INTO decision_latency_bounds (le) VALUES "
    + ", ".join(f"({bound!r})" for bound in BOUNDS)
    + " ON CONFLICT DO NOTHING",
    "CREATE TABLE IF NOT EXISTS decision_latency_buckets ("
    " id SERIAL PRIMARY KEY, workflow_id VARCHAR(100) NOT NULL, step_id VARCHAR(100) NOT NULL,"
    " le DOUBLE PRECISION NOT NULL, runs BIGINT NOT NULL DEFAULT 0,"
    " total_seconds DOUBLE PRECISION NOT NULL DEFAULT 0)",
    "CREATE UNIQUE INDEX IF NOT EXISTS decision_latency_buckets_key"
    " ON decision_latency_buckets (workflow_id, step_id, le)",
    COUNTER_FUNCTION,
    "DROP TRIGGER IF EXISTS step_run_tallies_count ON step_runs",
    "CREATE TRIGGER step_run_tallies_count AFTER INSERT OR UPDATE OR DELETE ON step_runs"
    " FOR EACH ROW EXECUTE FUNCTION step_run_tallies_count()",
    OUTCOMES_BACKFILL,
    LATENCY_BACKFILL,
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
