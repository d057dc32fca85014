"""Counts of a step's counted runs (completed, failed, rejected) read from the per-day counters
`step_run_days` (kept by a trigger on step_runs, migration 10:00), with only the partial days at
a range's ends counted over step_runs itself: a read's cost does not grow with the step's
history."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from app.db.tables import StepRun, StepRunDay
from app.domain.statuses import StepStatus

_COMPLETED = StepStatus.COMPLETED.value
_COUNTED = f"('{_COMPLETED}', '{StepStatus.FAILED.value}', '{StepStatus.REJECTED.value}')"
_TICK = timedelta(microseconds=1)  # PostgreSQL's timestamp resolution: (t - tick, ...] = [t, ...]

Tally = dict[date, tuple[int, int]]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


async def all_time_counts(workflow_id: str, step_id: str) -> tuple[int, int]:
    """The step's counted runs and successes, every mode, every day (a row per day and mode)."""
    rows = await StepRunDay.raw(
        "SELECT COALESCE(sum(successes + failures), 0) AS runs, "
        "COALESCE(sum(successes), 0) AS successes FROM step_run_days "
        "WHERE workflow_id = {} AND step_id = {}",
        workflow_id, step_id,
    )  # fmt: skip
    return int(rows[0]["runs"]), int(rows[0]["successes"])


async def _counted_runs(workflow_id: str, step_id: str, after: datetime, until: datetime) -> int:
    rows = await StepRun.raw(
        "SELECT count(*) AS runs FROM step_runs WHERE workflow_id = {} AND step_id = {} "
        f"AND ended_at > {{}} AND ended_at <= {{}} AND status IN {_COUNTED}",
        workflow_id, step_id, after, until,
    )  # fmt: skip
    return int(rows[0]["runs"])


async def counted_between(workflow_id: str, step_id: str, after: datetime, until: datetime) -> int:
    """How many of the step's runs ended in (after, until] counted, any mode: the whole UTC days
    in between from the counters, the two partial days from step_runs."""
    first_whole = _midnight(_day_of(after) + timedelta(days=1))
    last_day = _midnight(_day_of(until))
    if first_whole >= last_day:
        return await _counted_runs(workflow_id, step_id, after, until)
    rows = await StepRunDay.raw(
        "SELECT COALESCE(sum(successes + failures), 0) AS runs FROM step_run_days "
        "WHERE workflow_id = {} AND step_id = {} AND day >= {} AND day < {}",
        workflow_id, step_id, first_whole.date(), last_day.date(),
    )  # fmt: skip
    return (
        await _counted_runs(workflow_id, step_id, after, first_whole - _TICK)
        + int(rows[0]["runs"])
        + await _counted_runs(workflow_id, step_id, last_day - _TICK, until)
    )


async def _day_counts_of_runs(
    workflow_id: str, step_id: str, since: datetime, until: datetime
) -> Tally:
    if since >= until:
        return {}
    rows = await StepRun.raw(
        "SELECT (ended_at AT TIME ZONE 'UTC')::date AS day, "
        f"count(*) FILTER (WHERE status = '{_COMPLETED}') AS successes, "
        f"count(*) FILTER (WHERE status <> '{_COMPLETED}') AS failures FROM step_runs "
        "WHERE workflow_id = {} AND step_id = {} AND ended_at >= {} AND ended_at < {} "
        f"AND status IN {_COUNTED} GROUP BY 1",
        workflow_id, step_id, since, until,
    )  # fmt: skip
    return {row["day"]: (int(row["successes"]), int(row["failures"])) for row in rows}


async def day_counts(workflow_id: str, step_id: str, since: datetime, until: datetime) -> Tally:
    """Per UTC day: the step's (successes, failures-or-rejections) among runs that ended in
    [since, until), any mode; days without counted runs are absent. Whole days come from the
    counters, a partial first or last day from step_runs."""
    first_whole = _midnight(_day_of(since))
    if first_whole < since:
        first_whole += timedelta(days=1)
    last_day = _midnight(_day_of(until))
    if first_whole >= last_day:
        return await _day_counts_of_runs(workflow_id, step_id, since, until)
    rows = await StepRunDay.raw(
        "SELECT day, sum(successes) AS successes, sum(failures) AS failures FROM step_run_days "
        "WHERE workflow_id = {} AND step_id = {} AND day >= {} AND day < {} GROUP BY day "
        "HAVING sum(successes + failures) > 0",
        workflow_id, step_id, first_whole.date(), last_day.date(),
    )  # fmt: skip
    tally: Tally = {row["day"]: (int(row["successes"]), int(row["failures"])) for row in rows}
    tally |= await _day_counts_of_runs(workflow_id, step_id, since, first_whole)
    tally |= await _day_counts_of_runs(workflow_id, step_id, last_day, until)
    return tally
