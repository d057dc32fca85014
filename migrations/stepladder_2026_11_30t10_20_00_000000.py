"""Per-workflow counters of executions (`workflow_execution_counts`: how many, the newest
start), kept by a trigger on executions, so `GET /api/workflows` reads a row per workflow instead
of grouping every execution (issue 16). The backfill counts the executions already recorded.

As with step_run_days, a trigger sees each real write: an execution inserted twice (ON CONFLICT
DO NOTHING: no row, no trigger) counts once; a deleted one or a moved start is counted again
from the executions of that workflow."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-30T10:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "per-workflow counters of executions"

COUNTER_FUNCTION = """
CREATE OR REPLACE FUNCTION workflow_execution_counts_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO workflow_execution_counts (workflow_id, executions, last_started_at)
        VALUES (NEW.workflow_id, 1, NEW.started_at)
        ON CONFLICT (workflow_id) DO UPDATE
        SET executions = workflow_execution_counts.executions + 1,
            last_started_at = GREATEST(workflow_execution_counts.last_started_at,
                                       EXCLUDED.last_started_at);
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.workflow_id = NEW.workflow_id
       AND OLD.started_at IS NOT DISTINCT FROM NEW.started_at THEN
        RETURN NULL;  -- a status or outcome written: nothing moves
    END IF;
    -- Rare (a deletion, a moved start): count that workflow again; then the new one's.
    UPDATE workflow_execution_counts c
    SET executions = (SELECT count(*) FROM executions e WHERE e.workflow_id = OLD.workflow_id),
        last_started_at = (SELECT max(started_at) FROM executions e
                           WHERE e.workflow_id = OLD.workflow_id)
    WHERE c.workflow_id = OLD.workflow_id;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO workflow_execution_counts (workflow_id, executions, last_started_at)
        SELECT NEW.workflow_id, count(*), max(started_at) FROM executions
        WHERE workflow_id = NEW.workflow_id
        ON CONFLICT (workflow_id) DO UPDATE
        SET executions = EXCLUDED.executions, last_started_at = EXCLUDED.last_started_at;
    END IF;
    RETURN NULL;
END
$$
"""

BACKFILL = """
INSERT INTO workflow_execution_counts (workflow_id, executions, last_started_at)
SELECT workflow_id, count(*), max(started_at) FROM executions GROUP BY workflow_id
ON CONFLICT (workflow_id) DO UPDATE
SET executions = EXCLUDED.executions, last_started_at = EXCLUDED.last_started_at
"""

STATEMENTS = [
    "CREATE TABLE IF NOT EXISTS workflow_execution_counts ("
    " id SERIAL PRIMARY KEY, workflow_id VARCHAR(100) NOT NULL UNIQUE,"
    " executions BIGINT NOT NULL DEFAULT 0, last_started_at TIMESTAMPTZ NULL)",
    COUNTER_FUNCTION,
    "DROP TRIGGER IF EXISTS workflow_execution_counts_count ON executions",
    "CREATE TRIGGER workflow_execution_counts_count AFTER INSERT OR UPDATE OR DELETE"
    " ON executions FOR EACH ROW EXECUTE FUNCTION workflow_execution_counts_count()",
    BACKFILL,
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
