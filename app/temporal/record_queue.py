"""The workflow's record queue: what an execution has yet to write to PostgreSQL, and the local
activities writing it. Deterministic: workflow code, used by ExecutionWorkflow.

Records are written together by one local activity (`record_progress`): at most FLUSH_AFTER
after they are queued (a workflow timer), at once when a step starts waiting (the inbox reads
that row), and with the execution's end — so steps that run back to back cost no activity of
their own. Executions started before the patch ACTION_READS_MODE_ONE_RECORD_PATH (see
versions.py) keep their older path: one activity for the start, step outcomes in batches
(`record_step_runs`, flushed without a timer), one for the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

from app.domain.statuses import StepStatus
from app.temporal.contracts import (
    ExecutionFinished,
    ExecutionStarted,
    ProgressRecord,
    StepRunBatch,
    StepRunRecord,
)
from app.temporal.recording import LegacyRecordingActivities, RecordingActivities

# Records and mode lookups must survive a database outage: retry without limit, backing off.
DB_TIMEOUT = timedelta(seconds=30)
DB_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
# Records (start, step outcomes) wait at most this long to be written (a workflow timer).
FLUSH_AFTER = timedelta(seconds=1)

A = TypeVar("A")
R = TypeVar("R")


# Records are short, idempotent PostgreSQL writes: local activities, run by this worker
# without a round trip through the server per record. (A retry after a worker crash may
# run one twice; the upserts make that harmless.)
async def run_db_activity(activity: Callable[[Any, A], Awaitable[R]], arg: A) -> R:
    """Run a RecordingActivities method as a local activity, retrying without limit."""
    return await workflow.execute_local_activity_method(
        activity, arg, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY
    )


class RecordQueue:
    def __init__(self, *, legacy: bool = False) -> None:
        self._legacy = legacy
        self._started: ExecutionStarted | None = None
        # What is not yet sent to PostgreSQL (current path).
        self._pending = ProgressRecord()
        self._flush_timer: asyncio.Task[None] | None = None
        # Outcome records run beside the next steps (the step is not waiting on PostgreSQL);
        # all are settled before the execution records its end.
        self._recording: list[asyncio.Future[Any]] = []
        # The older path: step runs not yet sent, since when, and the start's own record.
        self._legacy_runs: list[StepRunRecord] = []
        self._legacy_since: datetime | None = None
        self._started_record: asyncio.Future[Any] | None = None

    @property
    def legacy(self) -> bool:
        """Whether this execution takes the path from before the patch."""
        return self._legacy

    def started(self, record: ExecutionStarted) -> None:
        self._started = record
        if self._legacy:
            self._started_record = self._write_later(
                LegacyRecordingActivities.record_execution_started, record
            )
        else:
            # No activity before the first step: the start is written with the first records.
            self._pending.started = record
            self._flush_soon()

    def step_run(self, run: StepRunRecord) -> None:
        """Queue a step's outcome (or its waiting): written now if the step waits, else soon."""
        waits = run.status == StepStatus.WAITING_APPROVAL
        if not self._legacy:
            self._pending.step_runs.append(run)
            if waits:
                self.flush()
            else:
                self._flush_soon()
            return
        now = workflow.now()
        self._legacy_runs.append(run)
        self._legacy_since = self._legacy_since or now
        if waits or now - self._legacy_since >= FLUSH_AFTER:
            self.flush()

    async def finished(self, record: ExecutionFinished) -> None:
        """Queue the execution's end with the last step records, and wait until all are in."""
        if self._legacy:  # the end updates the row the start inserted: wait for that record
            assert self._started_record is not None
            await asyncio.shield(self._started_record)
            self._write_later(LegacyRecordingActivities.record_execution_finished, record)
        else:
            self._pending.started, self._pending.finished = self._started, record
        await self.settle()

    def _flush_soon(self) -> None:
        """Make sure what is pending is written within FLUSH_AFTER (a workflow timer: no extra
        work unless an execution runs that long)."""
        if self._flush_timer is None or self._flush_timer.done():
            self._flush_timer = asyncio.create_task(self._flush_after_delay())

    async def _flush_after_delay(self) -> None:
        await workflow.sleep(FLUSH_AFTER)
        self.flush()

    def flush(self) -> None:
        """Start writing whatever is queued (without waiting for it)."""
        if self._pending:
            self._write_later(RecordingActivities.record_progress, self._pending)
            self._pending = ProgressRecord()
        if self._legacy_runs:
            batch = StepRunBatch(self._legacy_runs)
            self._write_later(LegacyRecordingActivities.record_step_runs, batch)
            self._legacy_runs, self._legacy_since = [], None

    async def settle(self) -> None:
        """Write everything pending and wait until every record is in PostgreSQL."""
        while self._pending or self._legacy_runs or self._recording:
            self.flush()
            recording, self._recording = self._recording, []
            # Shielded: cancelling the execution while it waits here must not cancel records.
            await asyncio.gather(*(asyncio.shield(record) for record in recording))

    def _write_later(self, activity: Callable[[Any, A], Awaitable[None]], arg: A) -> Any:
        record = workflow.start_local_activity_method(
            activity, arg, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY
        )
        self._recording.append(record)
        return record
