"""The inbox hub: one PostgreSQL reader of the waiting approvals per web process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager, suppress

from app.approvals.inbox import WaitingApproval
from app.live.feeds import Feed, FeedStopped, Subscription
from app.live.metrics import INBOX_POLLS, LIVE_SUBSCRIBERS
from app.live.tuning import LiveTuning

log = logging.getLogger("stepladder.live")


def items_version(items: list[WaitingApproval]) -> Hashable:
    return tuple(items)


class ApprovalInbox:
    """Per web process: one PostgreSQL poller for the steps waiting for approval, while anyone
    watches an inbox; each viewer filters the shared list for its own user."""

    def __init__(
        self, load: Callable[[], Awaitable[list[WaitingApproval]]], tuning: LiveTuning
    ) -> None:
        self._load = load
        self.tuning = tuning
        self._feed: Feed[list[WaitingApproval]] | None = None
        self.polls = 0
        self.subscribers = 0

    async def _poll(self) -> list[WaitingApproval]:
        self.polls += 1
        INBOX_POLLS.inc()
        return await self._load()

    async def snapshot(self) -> list[WaitingApproval]:
        """The poller's latest list (just after a nudge: its next read), else one read."""
        feed = self._feed
        if feed is not None and not feed.done:
            with suppress(FeedStopped):
                return await feed.answer()
        return await self._poll()

    def _running_feed(self) -> Feed[list[WaitingApproval]]:
        if self._feed is None or self._feed.done:
            interval = self.tuning.inbox_interval
            feed: Feed[list[WaitingApproval]] = Feed(
                "approvals inbox",
                self._poll,
                version=items_version,
                next_delay=lambda f, _: self.tuning.burst_interval if f.bursting() else interval,
                tuning=self.tuning,
            )
            feed.task = asyncio.create_task(self._run(feed))
            self._feed = feed
        return self._feed

    async def _run(self, feed: Feed[list[WaitingApproval]]) -> None:
        try:
            await feed.run()
        except Exception:
            log.exception("approvals inbox poller stopped unexpectedly")

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription[list[WaitingApproval]]]:
        feed = self._running_feed()
        mailbox = feed.join()
        if feed.latest is not None:
            mailbox.put(feed.latest)
        self.subscribers += 1
        LIVE_SUBSCRIBERS.inc()
        try:
            yield Subscription(feed.label, mailbox, items_version)
        finally:
            self.subscribers -= 1
            LIVE_SUBSCRIBERS.dec()
            feed.leave(mailbox)

    def nudge(self) -> None:
        """Something this app did may change the inbox (a start, a decision): read it now."""
        if self._feed is not None:
            self._feed.nudge()

    async def close(self) -> None:
        if self._feed is not None and self._feed.task is not None:
            self._feed.task.cancel()
            await asyncio.gather(self._feed.task, return_exceptions=True)
