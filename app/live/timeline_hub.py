"""The timeline hub: the one reader of execution timelines in a web process.

The page, the htmx answer after a decision and every SSE stream read through it. Per
execution it runs at most one watcher (a `Feed` polling the workflow's `timeline` query while
anyone watches) and at most one query at a time: callers that need a timeline no older than
some moment (a change this app just made) join the query in flight if it started after that
moment, else start one the watcher joins in turn. So one change costs one query.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager, suppress
from typing import Any

from app.domain.statuses import ACTIVE_STEP_STATUSES, StepStatus
from app.executions.service import UnknownExecution
from app.live.feeds import Feed, FeedStopped, Gone, Mailbox, QueryBudget, Subscription, reason
from app.live.metrics import LIVE_SUBSCRIBERS, TIMELINE_QUERIES, TIMELINE_QUERY_ERRORS
from app.live.schemas import WatcherStats
from app.live.tuning import LiveTuning
from app.temporal.contracts import Timeline

log = logging.getLogger("stepladder.live")

Changes = Callable[[str], AsyncIterator[float]]
"""`HistoryChanges.follow`: per long-poll answer on an execution's history, when its last state
change was written (epoch seconds; 0.0: none)."""

# Temporal's event times come from the server's clock, compared with this process's: a change
# written this much before a query started still counts as unseen by it. 0: with clocks apart,
# a change written just before a query could be taken as seen by it, and would show at the next
# change or the safety read; a larger margin costs one more query per change instead.
CLOCK_MARGIN = 0.0

# After an unconfirmed (stale) answer, read again after this many fast intervals (1 s by default).
STALE_RETRY = 4


def timeline_delay(tuning: LiveTuning) -> Callable[[Feed[Timeline], Timeline], float]:
    """Fast while steps run, slow while a step waits for a person, slower the longer it is quiet."""

    def delay(feed: Feed[Timeline], timeline: Timeline) -> float:
        if timeline.stale:
            # The query went unanswered (a busy or absent worker): what viewers got may be behind,
            # and no history event will come for a change already written. Ask again soon, then
            # less often the longer it stays unanswered (a busy worker is not flooded).
            first = STALE_RETRY * tuning.fast_interval
            return min(tuning.max_backoff, max(first, feed.quiet_for() / 2))
        if feed.pushed:  # Temporal's history long-poll wakes the watcher on each change
            return tuning.timeline_safety_interval
        if feed.bursting():
            return tuning.burst_interval
        statuses = {step.status for step in timeline.steps}
        if StepStatus.WAITING_APPROVAL in statuses and not statuses & ACTIVE_STEP_STATUSES:
            return tuning.slow_interval
        return min(
            tuning.slow_interval, max(tuning.fast_interval, feed.quiet_for() * tuning.idle_ratio)
        )

    return delay


def timeline_version(timeline: Timeline) -> Hashable:
    # `stale` too: the answer that replaces an unconfirmed one is sent even at the same version.
    return (timeline.version, timeline.status, timeline.stale)


class TimelineHub:
    """Per web process: at most one Temporal-query poller per execution, shared by all viewers,
    and at most one query in flight per execution, shared by every reader."""

    FINISHED_CACHE = 512
    CHANGES_KEPT = 1024

    def __init__(
        self,
        fetch: Callable[[str], Awaitable[Timeline]],
        tuning: LiveTuning,
        changes: Changes | None = None,
    ) -> None:
        self._fetch = fetch
        self._changes = changes
        self.tuning = tuning
        # When the latest query of each execution started (epoch seconds): history events
        # written before it are already in what that query answered.
        self._asked_at: OrderedDict[str, float] = OrderedDict()
        self._feeds: dict[str, Feed[Timeline]] = {}
        self._inflight: dict[str, tuple[float, asyncio.Task[Timeline]]] = {}
        # The query a push started (`_pushed`), kept for the next read even once it answered.
        self._prefetched: dict[str, tuple[float, asyncio.Task[Timeline]]] = {}
        # When this app last changed each execution (loop clock): reads must start after it.
        self._changed: OrderedDict[str, float] = OrderedDict()
        # A finished timeline never changes again: keep it instead of asking Temporal (which
        # replays the whole history on a worker to answer a query on a closed workflow).
        self._finished: OrderedDict[str, Timeline] = OrderedDict()
        self._budget = QueryBudget(tuning.query_budget)
        self.queries = 0
        self.query_errors = 0
        self.subscribers = 0

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    # -- reading ---------------------------------------------------------------------------
    async def _query(self, execution_id: str) -> Timeline:
        await self._budget.take()
        self._asked_at[execution_id] = time.time()
        self._asked_at.move_to_end(execution_id)
        while len(self._asked_at) > self.CHANGES_KEPT:
            self._asked_at.popitem(last=False)
        self.queries += 1
        TIMELINE_QUERIES.inc()
        try:
            timeline = await asyncio.wait_for(self._fetch(execution_id), self.tuning.query_timeout)
        except UnknownExecution:
            raise Gone(execution_id) from None
        if timeline.finished and not timeline.stale:
            self._finished[execution_id] = timeline
            while len(self._finished) > self.FINISHED_CACHE:
                self._finished.popitem(last=False)
        return timeline

    async def _read(self, execution_id: str) -> Timeline:
        """A timeline queried after this app's last change to the execution: the query in
        flight if it started since, else a new one. Raises `Gone` for an unknown execution."""
        not_before = self._changed.get(execution_id, 0.0)
        pushed = self._prefetched.pop(execution_id, None)
        if pushed is not None and pushed[0] >= not_before:
            return await asyncio.shield(pushed[1])  # started on a push, maybe answered already
        return await asyncio.shield(self._query_since(execution_id, not_before))

    def _query_since(self, execution_id: str, not_before: float) -> asyncio.Task[Timeline]:
        """The query in flight if it started at `not_before` (loop clock) or later, else a new
        one, which later readers join."""
        inflight = self._inflight.get(execution_id)
        if inflight is None or inflight[0] < not_before:
            task = asyncio.create_task(self._query(execution_id))
            inflight = (self._now(), task)
            self._inflight[execution_id] = inflight
            task.add_done_callback(lambda done: self._forget_inflight(execution_id, done))
        return inflight[1]

    def _forget_inflight(self, execution_id: str, task: asyncio.Task[Timeline]) -> None:
        inflight = self._inflight.get(execution_id)
        if inflight is not None and inflight[1] is task:
            del self._inflight[execution_id]
        # Reading the exception marks it retrieved even when every waiter was cancelled.
        error = None if task.cancelled() else task.exception()
        if error is not None and not isinstance(error, Gone):
            self.query_errors += 1
            TIMELINE_QUERY_ERRORS.inc()

    async def snapshot(self, execution_id: str) -> Timeline:
        """The current timeline: the watcher's latest (or, just after a nudge, the answer of its
        next poll), else one query shared with concurrent readers. Raises `UnknownExecution`, or
        what the query raised (Temporal down)."""
        if execution_id in self._finished:
            return self._finished[execution_id]
        feed = self._feeds.get(execution_id)
        try:
            if feed is not None and not feed.done:
                with suppress(FeedStopped):
                    return await feed.answer()
            return await self._read(execution_id)
        except Gone:
            raise UnknownExecution(execution_id) from None

    async def fresh(self, execution_id: str) -> Timeline:
        """The timeline read from now on (after a decision, or a refusal that says the page was
        behind): the watcher is nudged and shares the one query that reads it."""
        self.nudge(execution_id)
        return await self.snapshot(execution_id)

    def nudge(self, execution_id: str) -> None:
        """Something changed this execution (a decision, a start): later reads query again, and
        its watcher queries now, then briefly polls fast. Cheap for executions nobody watches."""
        if execution_id in self._finished:
            return
        self._changed[execution_id] = self._now()
        self._changed.move_to_end(execution_id)
        while len(self._changed) > self.CHANGES_KEPT:
            self._changed.popitem(last=False)
        feed = self._feeds.get(execution_id)
        if feed is not None:
            feed.nudge()

    @asynccontextmanager
    async def changing(self, execution_id: str) -> AsyncIterator[None]:
        """Around a change this app makes (a decision) and then nudges: a push of that change
        arriving first waits for the nudge, so one query serves both."""
        feed = self._feeds.get(execution_id)
        if feed is None or feed.done:
            yield
            return
        feed.hold()
        try:
            yield
        finally:
            feed.release()

    # -- watching --------------------------------------------------------------------------
    def _feed(self, execution_id: str, seed: Timeline | None) -> Feed[Timeline]:
        feed = self._feeds.get(execution_id)
        if feed is None or feed.done:
            feed = Feed(
                f"execution {execution_id}",
                lambda: self._read(execution_id),
                version=timeline_version,
                next_delay=timeline_delay(self.tuning),
                finished=lambda timeline: timeline.finished,
                tuning=self.tuning,
            )
            if seed is not None:
                feed.latest = seed
            feed.task = asyncio.create_task(self._run(execution_id, feed, seed))
            self._feeds[execution_id] = feed
        return feed

    async def _run(self, execution_id: str, feed: Feed[Timeline], seed: Timeline | None) -> None:
        follower = None
        if self._changes is not None:
            follower = asyncio.create_task(self._follow(execution_id, feed))
            if seed is not None:
                feed.pushed = True  # optimistic: the first long-poll answer is immediate
        try:
            # Just queried for this viewer (`seed`): the first poll can wait one interval.
            await feed.run(timeline_delay(self.tuning)(feed, seed) if seed is not None else 0.0)
        except Exception:
            log.exception("watcher for execution %s stopped unexpectedly", execution_id)
        finally:
            if follower is not None:
                follower.cancel()
                await asyncio.gather(follower, return_exceptions=True)
            if self._feeds.get(execution_id) is feed:
                del self._feeds[execution_id]
                self._prefetched.pop(execution_id, None)

    def _unseen(self, execution_id: str, written_at: float) -> bool:
        """Whether a change written at `written_at` may be missing from the latest query's answer
        (it started before the change; queries in flight count too)."""
        return written_at > 0 and written_at + CLOCK_MARGIN >= self._asked_at.get(execution_id, 0.0)

    async def _follow(self, execution_id: str, feed: Feed[Timeline]) -> None:
        """Wake `feed` on each change Temporal writes to the execution's history that its last
        query did not see; while the long-poll fails (Temporal down) the feed polls as before
        and this retries slowly."""
        assert self._changes is not None
        failures = 0
        while True:
            try:
                async for written_at in self._changes(execution_id):
                    if failures:
                        feed.poke()  # changes during the outage: read once now
                    feed.pushed, failures = True, 0
                    if self._unseen(execution_id, written_at):
                        self._pushed(execution_id, feed)
                return  # the execution closed; its final query follows the poke
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                feed.pushed = False
                failures += 1
                delay = min(self.tuning.max_backoff, self.tuning.fast_interval * 2.0**failures)
                if failures == 1 or failures % 10 == 0:
                    log.warning(
                        "execution %s: history long-poll failed (%s, %d in a row); polling, "
                        "retrying in %.1fs", execution_id, reason(exc), failures, delay,
                    )  # fmt: skip
                feed.poke()
                await asyncio.sleep(delay)

    def _pushed(self, execution_id: str, feed: Feed[Timeline]) -> None:
        """A change the latest query did not see: wake the feed, and start its query now even
        if one that started before the change is still in flight (the feed, busy with that one,
        joins this one next instead of asking only once it returns). While a decision through
        this app is in flight the feed waits for its nudge instead (one query serves both)."""
        feed.poke()
        if not feed.holds:
            now = self._now()
            self._prefetched[execution_id] = (now, self._query_since(execution_id, now))

    @asynccontextmanager
    async def subscribe(
        self, execution_id: str, seen: Timeline | None = None
    ) -> AsyncIterator[Subscription[Timeline]]:
        """Versions of the execution's timeline newer than `seen`, until it finishes."""
        final = self._finished.get(execution_id)
        feed = None if final is not None else self._feed(execution_id, seen)
        mailbox: Mailbox[Timeline] = feed.join() if feed is not None else Mailbox()
        subscription = Subscription(f"execution {execution_id}", mailbox, timeline_version)
        if seen is not None:
            subscription.mark_seen(seen)
        if final is not None:
            # Finished since `seen` was taken: hand over the final version, or say it is over.
            unseen = seen is None or timeline_version(seen) != timeline_version(final)
            mailbox.put(final if unseen else None)
        elif feed is not None and feed.latest is not None:
            mailbox.put(feed.latest)  # catch up at once if the watcher already knows more
        self.subscribers += 1
        LIVE_SUBSCRIBERS.inc()
        try:
            yield subscription
        finally:
            self.subscribers -= 1
            LIVE_SUBSCRIBERS.dec()
            if feed is not None:
                feed.leave(mailbox)

    @property
    def watched(self) -> int:
        return sum(1 for feed in self._feeds.values() if not feed.done)

    def watchers(self) -> dict[str, WatcherStats]:
        """Per watched execution: its viewers here and the queries its watcher has made."""
        return {
            execution_id: WatcherStats(subscribers=len(feed.mailboxes), queries=feed.polls)
            for execution_id, feed in self._feeds.items()
            if not feed.done
        }

    async def close(self) -> None:
        tasks: list[asyncio.Task[Any]] = [f.task for f in self._feeds.values() if f.task]
        tasks += [task for _, task in self._inflight.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._feeds.clear()
