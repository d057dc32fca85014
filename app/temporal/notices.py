"""The workflow's side of notifications: which notices a waiting step sends and when.

Deterministic workflow code: each send is the `send_notification` activity (retried, and made
once per key — see app/temporal/notifying.py); reminders and the escalation wait on workflow
timers that end as soon as the step's wait does. A channel that keeps failing never touches the
execution: the failure is written under the step ("slack notification (waiting) failed 3 times:
404 Not Found") and the execution goes on.

Versioned by NOTIFY_APPROVERS: only steps with a `notify:` ask `workflow.patched`, so histories
of executions without notifications replay unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from app.domain.definitions import StepDefinition
    from app.domain.notifications import Notice, NoticeKind, NotifySpec, reminder_offsets
    from app.domain.statuses import StepStatus
    from app.temporal.contracts import (
        ExecutionInput,
        NotificationRequest,
        NotificationResult,
        StepState,
    )
    from app.temporal.decision_desk import Waiting

NOTIFY_APPROVERS = "notify-approvers"
SEND_ATTEMPTS = 3
SEND_RETRY = RetryPolicy(
    maximum_attempts=SEND_ATTEMPTS,
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
)
SEND_TIMEOUT = timedelta(seconds=30)


class StepNotices:
    """One waiting step's notices: the first at once, reminders and the escalation when due
    while it still waits, the outcome when the wait ends."""

    def __init__(
        self,
        spec: NotifySpec,
        notice: Notice,
        state: StepState,
        since: datetime,
        timeout_seconds: float,
        on_change: Callable[[], None],
    ) -> None:
        self.spec = spec
        self.notice = notice
        self.state = state
        self.since = since
        self.timeout_seconds = timeout_seconds
        self.on_change = on_change
        self.ended = False

    async def run(self) -> None:
        """Send the waiting notice, then each reminder and the escalation as it falls due."""
        await self.send(self.notice, 0, self.spec.channels)
        for number, (offset, kind) in enumerate(reminder_offsets(self.spec, self.timeout_seconds)):
            remaining = offset - (workflow.now() - self.since).total_seconds()
            if remaining > 0:
                with contextlib.suppress(TimeoutError):  # due: send it
                    await workflow.wait_condition(lambda: self.ended, timeout=remaining)
            if self.ended:
                return
            escalation = self.spec.escalation if kind == NoticeKind.ESCALATION else None
            channels = (escalation.channels if escalation else []) or self.spec.channels
            escalated_to = escalation.group if escalation else ""
            await self.send(replace(self.notice, kind=kind, escalated_to=escalated_to),
                            number + 1, channels)  # fmt: skip

    async def outcome(self, status: StepStatus, waiting: Waiting) -> None:
        """Tell the channels how the wait ended: approved, rejected or expired, and by whom."""
        decided_by = waiting.decided_by or ", ".join(waiting.approved_by)
        notice = replace(
            self.notice, kind=NoticeKind.OUTCOME, outcome=status.value,
            decided_by=decided_by if status != StepStatus.EXPIRED else "", reason=waiting.reason,
        )  # fmt: skip
        await self.send(notice, 0, self.spec.channels)

    async def send(self, notice: Notice, number: int, channels: list[str]) -> None:
        await asyncio.gather(*(self._send_one(notice, number, channel) for channel in channels))

    async def _send_one(self, notice: Notice, number: int, channel: str) -> None:
        key = f"{notice.execution_id}:{notice.step_id}:{notice.kind}:{number}:{channel}"
        try:
            await workflow.execute_activity(
                "send_notification",
                NotificationRequest(key=key, channel=channel, notice=notice),
                result_type=NotificationResult,
                start_to_close_timeout=SEND_TIMEOUT,
                retry_policy=SEND_RETRY,
            )
        except ActivityError as exc:
            cause = exc.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
            final = isinstance(cause, ApplicationError) and cause.non_retryable
            times = "" if final else f" {SEND_ATTEMPTS} times"
            self.state.notices.append(
                f"{channel} notification ({notice.kind}) failed{times}: {message}"
            )
            self.on_change()


class ExecutionNotices:
    """All notices of one execution; `drain` before it ends so none is left behind."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self.on_change = on_change
        self._tasks: list[asyncio.Task[None]] = []
        self._open: list[StepNotices] = []

    def waiting(
        self,
        inp: ExecutionInput,
        step: StepDefinition,
        state: StepState,
        since: datetime,
        deadline: datetime,
    ) -> StepNotices | None:
        """Start the notices of a step that began waiting (none without `notify:`)."""
        spec = inp.definition.notify_for(step)
        if spec is None or not workflow.patched(NOTIFY_APPROVERS):
            return None
        notice = Notice(
            kind=NoticeKind.WAITING, workflow_id=inp.definition.id,
            workflow_name=inp.definition.name, execution_id=inp.execution_id, step_id=step.id,
            step_name=step.name, impact=step.impact, environment=step.environment,
            key_input=inp.definition.key_of(inp.input),
            summary=state.preview.summary if state.preview else "",
            waiting_since=since.isoformat(), expires_at=deadline.isoformat(),
        )  # fmt: skip
        notices = StepNotices(
            spec, notice, state, since, step.approval_timeout_seconds, self.on_change
        )
        self._open.append(notices)
        self._tasks.append(asyncio.create_task(notices.run()))
        return notices

    def ended(self, notices: StepNotices | None, status: StepStatus, waiting: Waiting) -> None:
        """The step's wait ended: stop its reminders and send the outcome (when asked for)."""
        if notices is None:
            return
        notices.ended = True
        if notices.spec.outcome:
            self._tasks.append(asyncio.create_task(notices.outcome(status, waiting)))

    async def drain(self) -> None:
        """Stop every reminder and wait for the sends in flight (each ends within its retries)."""
        for notices in self._open:
            notices.ended = True
        await asyncio.gather(*self._tasks)
