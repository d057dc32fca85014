"""Feeds: one poller per watched thing, handing each new version to its viewers' mailboxes.

A `Feed` polls one source while anyone subscribes and puts each new version in every
subscriber's one-slot `Mailbox`: a slow viewer only ever gets the latest version and never
holds up the others. A `Subscription` is one viewer's stream of versions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from contextlib import suppress
from typing import Generic, TypeVar

from app.live.metrics import LIVE_FEEDS
from app.live.tuning import LiveTuning

log = logging.getLogger("stepladder.live")

T = TypeVar("T")


class Mailbox(Generic[T]):
    """A one-slot box: a new version replaces an unread one, so a slow reader never lags."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._ready = asyncio.Event()
        self.put_at = 0.0

    def put(self, item: T | None) -> None:
        self._item = item
        self.put_at = time.time()
        self._ready.set()

    async def get(self) -> T | None:
        await self._ready.wait()
        self._ready.clear()
        return self._item


class Gone(Exception):
    """The watched thing no longer exists (e.g. an execution unknown to Temporal)."""


class FeedStopped(Exception):
    """The feed stopped polling before it answered (no viewers left, or the app shuts down)."""


class Feed(Generic[T]):
    """Polls `fetch` while subscribed and publishes each value whose `version` differs."""

    def __init__(
        self,
        label: str,
        fetch: Callable[[], Awaitable[T]],
        *,
        version: Callable[[T], Hashable],
        next_delay: Callable[[Feed[T], T], float],
        finished: Callable[[T], bool] = lambda _: False,
        tuning: LiveTuning,
        on_error: Callable[[], None] = lambda: None,
    ) -> None:
        self.label = label
        self._fetch = fetch
        self._version = version
        self._next_delay = next_delay
        self._finished = finished
        self._tuning = tuning
        self._on_error = on_error
        self.latest: T | None = None
        self.mailboxes: set[Mailbox[T]] = set()
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._clock = loop.time
        self.last_change = self._clock()
        self.burst_until = 0.0
        self.nudged_at = 0.0
        """When the feed was last told of a change (loop clock); 0 if never."""
        self.answered_for = 0.0
        """The `announced_at` the latest successful poll was asked for: when it equals that,
        `latest` already shows the last change made through this app."""
        self._empty_since = self._clock()
        self._waiters: set[asyncio.Future[T]] = set()
        self.task: asyncio.Task[None] | None = None
        self.polls = 0
        self._poked = False
        self.holds = 0
        """Changes this app is making now (`hold`): a push waits for their nudge to share a read."""
        self.changed_at = 0.0
        """When a change was last pushed (`poke`; loop clock): `latest` is older until a poll
        started after it answers."""
        self.pushed = False
        """True while changes are pushed to this feed (`poke`): then `next_delay` may answer a
        slow safety interval instead of polling."""

    # -- subscribers -----------------------------------------------------------------------
    def join(self) -> Mailbox[T]:
        mailbox: Mailbox[T] = Mailbox()
        self.mailboxes.add(mailbox)
        return mailbox

    def leave(self, mailbox: Mailbox[T]) -> None:
        self.mailboxes.discard(mailbox)
        if not self.mailboxes:
            self._empty_since = self._clock()

    def nudge(self) -> None:
        self.nudged_at = self._clock()
        self.burst_until = self.nudged_at + self._tuning.burst_window
        self._wake.set()

    def poke(self) -> None:
        """The source changed (pushed by its producer, e.g. Temporal's history): read it now —
        or, while `holds` (this app's own decision in flight), at its nudge, so one read serves
        the decision's answer and the viewers."""
        self._poked = True
        self.changed_at = self._clock()
        self._wake.set()

    @property
    def done(self) -> bool:
        return self.task is not None and self.task.done()

    def refresh(self) -> None:
        """Read again now; `answer()` then waits for that read (a page load: its own fresh read,
        shared with every viewer)."""
        self.changed_at = self._clock()
        self._wake.set()

    @property
    def announced_at(self) -> float:
        """When a change was last announced, by a nudge or a push (loop clock)."""
        return max(self.nudged_at, self.changed_at)

    @property
    def current(self) -> T | None:
        """`latest` if it is known to show every change announced by a nudge or a push."""
        if self.done or self.answered_for < self.announced_at:
            return None
        return self.latest

    async def answer(self) -> T:
        """The current value: `current`, or else the answer of the poll that follows the last
        nudge (so a reader after a change shares the feed's query instead of making its own).
        Raises what that poll raised, or `FeedStopped` if the feed stops first."""
        current = self.current
        if current is not None:
            return current
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            return await waiter
        finally:
            self._waiters.discard(waiter)

    def _resolve_waiters(self, value: T) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(value)
        self._waiters.clear()

    def _fail_waiters(self, error: BaseException) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(error)
        self._waiters.clear()

    # -- the poller ------------------------------------------------------------------------
    async def run(self, first_delay: float = 0.0) -> None:
        """Poll until finished, or until nobody has watched for `linger`; the first poll after
        `first_delay` (a viewer that just read the value needs no second read at once)."""
        LIVE_FEEDS.inc()
        failures = 0
        try:
            if first_delay:
                await self.wait(first_delay)
            while not self._idle_long_enough():
                self.polls += 1
                # Cleared before the query, so a nudge during it still cuts the next wait short.
                self._wake.clear()
                asked_for = self.announced_at
                try:
                    value = await asyncio.wait_for(self._fetch(), self._tuning.query_timeout)
                except Gone as exc:
                    self._fail_waiters(exc)
                    self._publish(None)
                    return
                except Exception as exc:  # Temporal or PostgreSQL down: keep viewers, retry
                    failures += 1
                    await self.wait(self._failed(exc, failures, asked_for))
                    continue
                if failures:
                    log.info("%s: polling again after %d failure(s)", self.label, failures)
                    failures = 0
                self._received(value, asked_for)
                if self._finished(value):
                    return
                await self.wait(self._next_delay(self, value))
        finally:
            self._fail_waiters(FeedStopped(self.label))
            LIVE_FEEDS.dec()

    def _received(self, value: T, asked_for: float) -> None:
        """A poll asked for at `asked_for` (the `announced_at` of its start) answered `value`."""
        self.answered_for = asked_for
        if self.latest is None or self._version(value) != self._version(self.latest):
            self.latest = value
            self.last_change = self._clock()
            self._publish(value)
        if asked_for >= self.announced_at or self._finished(value):
            self._resolve_waiters(value)

    def _failed(self, exc: Exception, failures: int, asked_for: float) -> float:
        """A poll failed (the `failures`-th in a row): tell waiters, log, and answer the delay
        before the next try (doubling, up to `max_backoff`)."""
        self._on_error()
        if asked_for >= self.announced_at:
            self._fail_waiters(exc)
        delay = min(self._tuning.max_backoff, self._tuning.fast_interval * 2.0**failures)
        if failures == 1 or failures % 10 == 0:
            log.warning(
                "%s: poll failed (%s, %d in a row); retrying in %.1fs",
                self.label, reason(exc), failures, delay,
            )  # fmt: skip
        return delay

    def quiet_for(self) -> float:
        return self._clock() - self.last_change

    def bursting(self) -> bool:
        return self._clock() < self.burst_until

    def _idle_long_enough(self) -> bool:
        return not self.mailboxes and self._clock() - self._empty_since >= self._tuning.linger

    def _publish(self, value: T | None) -> None:
        for mailbox in self.mailboxes:
            mailbox.put(value)

    async def wait(self, delay: float) -> None:
        """Sleep `delay` seconds, or less when nudged or when lingering ends sooner."""
        if not self.mailboxes:
            delay = min(delay, max(0.0, self._empty_since + self._tuning.linger - self._clock()))
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)
        if self._poked:
            self._poked = False
            if self.holds:
                # A decision through this app is in flight: its nudge (or release) follows and
                # the one read after it serves both.
                self._wake.clear()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._tuning.query_timeout)

    def hold(self) -> None:
        """This app is about to change the source and will `nudge` (or `release`) when done."""
        self.holds += 1

    def release(self) -> None:
        """The change announced by `hold` is done (or refused)."""
        self.holds = max(0, self.holds - 1)
        self._wake.set()


class Subscription(Generic[T]):
    """One viewer's stream of versions: `next()` waits for a version it has not seen."""

    def __init__(self, label: str, mailbox: Mailbox[T], version: Callable[[T], Hashable]):
        self.label = label
        self._mailbox = mailbox
        self._version = version
        self._seen: Hashable = None
        self.published_at = 0.0
        """Wall-clock time the web process learned of the version `next()` returned last."""

    def mark_seen(self, value: T) -> None:
        self._seen = self._version(value)

    async def next(self) -> T:
        while True:
            value = await self._mailbox.get()
            if value is None:
                raise Gone(self.label)
            if self._version(value) != self._seen:
                self._seen = self._version(value)
                self.published_at = self._mailbox.put_at
                return value


def reason(exc: BaseException) -> str:
    """An exception in one line for logs: its type and the first line of its message."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class QueryBudget:
    """A token bucket: at most `rate` takes per second on average, in bursts of up to `rate`."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._tokens = rate
        self._clock = time.monotonic
        self._updated = self._clock()

    async def take(self) -> None:
        while True:
            now = self._clock()
            self._tokens = min(self.rate, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) / self.rate)
