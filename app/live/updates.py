"""What a web process keeps for live pages: the timeline, inbox and executions list hubs."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from app.live.executions_hub import ExecutionsList
from app.live.history import HistoryChanges
from app.live.inbox_hub import ApprovalInbox
from app.live.rendering import SharedRenders
from app.live.schemas import LiveStats
from app.live.timeline_hub import TimelineHub
from app.temporal.contracts import Timeline


@dataclass
class LiveUpdates:
    """On app state as `live` and injected as the `live` dependency."""

    timelines: TimelineHub
    inbox: ApprovalInbox
    history: HistoryChanges | None = None
    renders: SharedRenders = field(default_factory=SharedRenders)
    """Timeline partials shared by the SSE viewers of one version (app/live/rendering.py)."""
    executions: ExecutionsList | None = None

    def nudge(self, execution_id: str) -> None:
        """Call after this app changed an execution (a start, a decision, a cancel): its viewers
        and every open inbox see it now instead of at the next poll."""
        self.timelines.nudge(execution_id)
        self.inbox.nudge()
        if self.executions is not None:
            self.executions.nudge()

    async def after_change(self, execution_id: str) -> Timeline:
        """Nudge as `nudge` does, and answer the execution's timeline read after the change (the
        one query its watcher shares)."""
        self.inbox.nudge()
        return await self.timelines.fresh(execution_id)

    def changing(self, execution_id: str) -> AbstractAsyncContextManager[None]:
        """Wrap a decision in it, then call `after_change` or `nudge`: the watcher's push of the
        same change waits for that nudge (one click, one `timeline` query)."""
        return self.timelines.changing(execution_id)

    def decided(self, execution_id: str, step_id: str) -> None:
        """A step's decision was accepted (announced by any web process, this one included):
        open inboxes drop it now (`ApprovalInbox.decided`), and the executions list reads again
        (its rows hide the step through the same mask) instead of waiting for the records."""
        self.inbox.decided(execution_id, step_id)
        if self.executions is not None:
            self.executions.nudge()

    def set_listening(self, listening: bool) -> None:
        """PostgreSQL's notifications (both channels, one connection) start or stop arriving."""
        self.inbox.set_listening(listening)
        if self.executions is not None:
            self.executions.set_listening(listening)

    def stats(self) -> LiveStats:
        return LiveStats(
            timeline_queries=self.timelines.queries,
            timeline_query_errors=self.timelines.query_errors,
            watched_executions=self.timelines.watched,
            timeline_subscribers=self.timelines.subscribers,
            inbox_polls=self.inbox.polls,
            inbox_subscribers=self.inbox.subscribers,
            inbox_listening=self.inbox.listening,
            inbox_notifications=self.inbox.notifications,
            inbox_decided_notices=self.inbox.decided_notices,
            history_long_polls=self.history.requests if self.history is not None else 0,
            executions=self.timelines.watchers(),
            **self._list_stats(),
        )

    def _list_stats(self) -> dict[str, int]:
        hub = self.executions
        if hub is None:
            return {}
        return {
            "executions_list_reads": hub.reads,
            "executions_list_subscribers": hub.subscribers,
            "executions_list_notifications": hub.notifications,
        }

    async def close(self) -> None:
        closing = [self.timelines.close(), self.inbox.close()]
        if self.executions is not None:
            closing.append(self.executions.close())
        await asyncio.gather(*closing)
