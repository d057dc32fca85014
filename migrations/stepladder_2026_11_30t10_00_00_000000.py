"""Per-step per-day counters of step-run outcomes (`step_run_days`), kept by a trigger on
step_runs, so the analytics' all-time counts and per-day charts read a row per day instead of
every run (issue 16). The backfill counts the runs already recorded.

The trigger, not the engine's upsert, keeps the counters: it sees the row as it really was
before each write (OLD) and as written (NEW), so a record written twice (a retried activity), a
waiting row overwritten by its outcome, a run written by any other path (seeds, tests) or a
deleted run moves each counter exactly once. A run counts on the UTC day of `ended_at` when its
status is completed (a success) or failed/rejected (a failure); a counted run without
`ended_at` counts on day '-infinity' (all-time counts only).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-30T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "per-day counters of step-run outcomes"

COUNTER_FUNCTION = """
CREATE OR REPLACE FUNCTION step_run_days_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_day date;
    new_day date;
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status IN ('completed', 'failed', 'rejected') THEN
        old_day := COALESCE((OLD.ended_at AT TIME ZONE 'UTC')::date, '-infinity'::date);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status IN ('completed', 'failed', 'rejected') THEN
        new_day := COALESCE((NEW.ended_at AT TIME ZONE 'UTC')::date, '-infinity'::date);
    END IF;
    IF TG_OP = 'UPDATE' AND old_day IS NOT DISTINCT FROM new_day
       AND OLD.status IS NOT DISTINCT FROM NEW.status AND OLD.mode IS NOT DISTINCT FROM NEW.mode
       AND OLD.workflow_id = NEW.workflow_id AND OLD.step_id = NEW.step_id THEN
        RETURN NULL;  -- the same outcome written again (a retried record): nothing moves
    END IF;
    IF old_day IS NOT NULL THEN
        UPDATE step_run_days
        SET successes = successes - (OLD.status = 'completed')::int,
            failures = failures - (OLD.status <> 'completed')::int
        WHERE workflow_id = OLD.workflow_id AND step_id = OLD.step_id AND day = old_day
          AND mode = OLD.mode;
    END IF;
    IF new_day IS NOT NULL THEN
        INSERT INTO step_run_days (workflow_id, step_id, mode, day, successes, failures)
        VALUES (NEW.workflow_id, NEW.step_id, NEW.mode, new_day,
                (NEW.status = 'completed')::int, (NEW.status <> 'completed')::int)
        ON CONFLICT (workflow_id, step_id, day, mode) DO UPDATE
        SET successes = step_run_days.successes + EXCLUDED.successes,
            failures = step_run_days.failures + EXCLUDED.failures;
    END IF;
    RETURN NULL;
END
$$
"""

# Sets each counter to the count of the runs recorded (so running it again changes nothing).
BACKFILL = """
INSERT INTO step_run_days (workflow_id, step_id, mode, day, successes, failures)
SELECT workflow_id, step_id, mode,
       COALESCE((ended_at AT TIME ZONE 'UTC')::date, '-infinity'::date),
       count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status <> 'completed')
FROM step_runs WHERE status IN ('completed', 'failed', 'rejected')
GROUP BY 1, 2, 3, 4
ON CONFLICT (workflow_id, step_id, day, mode) DO UPDATE
SET successes = EXCLUDED.successes, failures = EXCLUDED.failures
"""

STATEMENTS = [
    "CREATE TABLE IF NOT EXISTS step_run_days ("
    " id SERIAL PRIMARY KEY, workflow_id VARCHAR(100) NOT NULL, step_id VARCHAR(100) NOT NULL,"
    " mode VARCHAR(32) NOT NULL, day DATE NOT NULL,"
    " successes INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0)",
    "CREATE UNIQUE INDEX IF NOT EXISTS step_run_days_key"
    " ON step_run_days (workflow_id, step_id, day, mode)",
    COUNTER_FUNCTION,
    "DROP TRIGGER IF EXISTS step_run_days_count ON step_runs",
    "CREATE TRIGGER step_run_days_count AFTER INSERT OR UPDATE OR DELETE ON step_runs"
    " FOR EACH ROW EXECUTE FUNCTION step_run_days_count()",
    BACKFILL,
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
