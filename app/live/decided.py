"""Announcing a decided step to every web process's inbox, as soon as Temporal accepted it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from app.db.inbox_channel import announce_decided
from app.live.feeds import reason

log = logging.getLogger("stepladder.live")


class DecidedSink(Protocol):
    """What hears of a decided step in this process (`LiveUpdates`, or an `ApprovalInbox`)."""

    def decided(self, execution_id: str, step_id: str) -> None: ...


class DecidedPublisher:
    """Called (`publisher(execution_id, step_id)`) once a decision ended a step's wait: this
    process's live pages (`sink`: its inbox and executions list) drop the step at once, and a
    NOTIFY (`announce_decided`) tells every other web process to do the same — without waiting
    for the worker to write the step's record (batched behind the record queue's flush timer).
    Sent in the background within `timeout` seconds: the decision's answer never waits on
    PostgreSQL, and a failed NOTIFY only costs the others the records' own notification, which
    still comes."""

    def __init__(
        self,
        sink: DecidedSink,
        announce: Callable[[str, str], Awaitable[None]] = announce_decided,
        *,
        timeout: float = 2.0,
    ) -> None:
        self.sink = sink
        self._announce = announce
        self.timeout = timeout
        self._sending: set[asyncio.Task[None]] = set()

    def __call__(self, execution_id: str, step_id: str) -> None:
        self.sink.decided(execution_id, step_id)
        task = asyncio.create_task(self._send(execution_id, step_id))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, execution_id: str, step_id: str) -> None:
        try:
            await asyncio.wait_for(self._announce(execution_id, step_id), self.timeout)
        except Exception as exc:  # PostgreSQL down: the worker's records notify later
            log.warning(
                "inbox: could not announce %s/%s decided (%s)", execution_id, step_id, reason(exc)
            )

    async def close(self) -> None:
        """Let announcements under way finish (each within `timeout`)."""
        await asyncio.gather(*self._sending, return_exceptions=True)
