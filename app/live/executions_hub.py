"""The executions list hub: one PostgreSQL reader of the list's newest page per filter set.

The worker NOTIFYs `stepladder_executions` whenever an execution's row or step runs change
(app/db/inbox_channel.py); each web process LISTENs and pokes every watched filter set's feed,
debounced (`list_debounce`) so a burst of changes is one read per filter set.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import astuple

from app.executions.listing import ExecutionFilter, ExecutionPage
from app.live.feeds import Feed, Subscription
from app.live.metrics import LIVE_SUBSCRIBERS
from app.live.tuning import LiveTuning

log = logging.getLogger("stepladder.live")


def page_version(page: ExecutionPage) -> Hashable:
    """What the list shows of a page: every row's fields and where the older page starts."""
    return tuple(astuple(row) for row in page.rows), page.older


def page_digest(page: ExecutionPage) -> str:
    """A short digest of `page_version`, the same in every web process: the page puts the one it
    rendered in its stream's URL (`seen`) so the stream does not send those rows again."""
    return hashlib.sha256(repr(page_version(page)).encode()).hexdigest()[:16]


class ExecutionsList:
    """Per web process: while anyone watches the executions list's newest page, one feed per
    distinct `ExecutionFilter` reads it — once per notified change (`changed`, debounced),
    every `safety_interval` while `listening`, else every `list_interval`. Viewers of the same
    filters share each read (`reads` counts them)."""

    def __init__(
        self, load: Callable[[ExecutionFilter], Awaitable[ExecutionPage]], tuning: LiveTuning
    ) -> None:
        self._load = load
        self.tuning = tuning
        self._feeds: dict[ExecutionFilter, Feed[ExecutionPage]] = {}
        self.listening = False
        """True while PostgreSQL's notifications are received (app/db/inbox_channel.py)."""
        self.notifications = 0
        self.reads = 0
        self.subscribers = 0
        self.version = 0
        """Bumped once per debounced burst of changes: each watched filter set reads once."""
        self._debounce: asyncio.TimerHandle | None = None

    async def _read(self, filters: ExecutionFilter) -> ExecutionPage:
        self.reads += 1
        return await self._load(filters)

    def _running_feed(self, filters: ExecutionFilter) -> Feed[ExecutionPage]:
        feed = self._feeds.get(filters)
        if feed is None or feed.done:
            feed = Feed(
                "executions list",
                lambda: self._read(filters),
                version=page_version,
                next_delay=lambda f, _: self._next_delay(f),
                tuning=self.tuning,
            )
            feed.pushed = self.listening
            feed.task = asyncio.create_task(self._run(feed, filters))
            self._feeds[filters] = feed
        return feed

    def _next_delay(self, feed: Feed[ExecutionPage]) -> float:
        return self.tuning.safety_interval if feed.pushed else self.tuning.list_interval

    async def _run(self, feed: Feed[ExecutionPage], filters: ExecutionFilter) -> None:
        try:
            await feed.run()
        except Exception:
            log.exception("executions list poller stopped unexpectedly")
        finally:
            if self._feeds.get(filters) is feed:
                del self._feeds[filters]

    def changed(self, execution_id: str = "") -> None:
        """A notification: `execution_id`'s row or step runs changed (any web process's doing).
        Every watched filter set reads once `list_debounce` after the first of a burst."""
        self.notifications += 1
        self.nudge()

    def nudge(self) -> None:
        """Something this app did may change the list (a start, a cancel): read it soon
        (debounced as a notification is; the worker's own notification may follow)."""
        if self._debounce is None:
            loop = asyncio.get_running_loop()
            self._debounce = loop.call_later(self.tuning.list_debounce, self._flush)

    def _flush(self) -> None:
        self._debounce = None
        self.version += 1
        for feed in self._feeds.values():
            feed.poke()

    def set_listening(self, listening: bool) -> None:
        """Notifications start (read at once: one may have been missed) or stop (poll again)."""
        self.listening = listening
        for feed in self._feeds.values():
            feed.pushed = listening
            feed.poke()

    @asynccontextmanager
    async def subscribe(
        self, filters: ExecutionFilter
    ) -> AsyncIterator[Subscription[ExecutionPage]]:
        """Watch the newest page for `filters`: the latest known page at once (if any), then
        each page that differs. Raises nothing; reads that fail are retried with backoff."""
        feed = self._running_feed(filters)
        mailbox = feed.join()
        if feed.latest is not None:
            mailbox.put(feed.latest)
            if not feed.pushed:
                feed.refresh()  # not told of changes: what it knew may be old
        self.subscribers += 1
        LIVE_SUBSCRIBERS.inc()
        try:
            yield Subscription(feed.label, mailbox, page_version)
        finally:
            self.subscribers -= 1
            LIVE_SUBSCRIBERS.dec()
            feed.leave(mailbox)

    async def close(self) -> None:
        if self._debounce is not None:
            self._debounce.cancel()
            self._debounce = None
        tasks = [feed.task for feed in self._feeds.values() if feed.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
