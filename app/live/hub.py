"""Live updates: one poller per watched thing per web process, fanned out to SSE viewers.

A `Feed` polls one source (an execution's Temporal `timeline` query, or the approvals inbox
in PostgreSQL) while anyone subscribes, and hands each new version to every subscriber's
one-slot mailbox: a slow viewer only ever gets the latest version and never holds up the
others. So the query load grows with the number of watched executions, not with viewers.
`LiveUpdates.nudge(execution_id)` makes both pollers look at once; call it after anything
this app changes (a start, a decision) so screens do not wait for the next poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.utils.scope.state import ScopeState
from prometheus_client import Counter, Gauge
from sse_starlette import EventSourceResponse, ServerSentEvent
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.common import RawValue
from temporalio.service import RPCError, RPCStatusCode

from app.approvals.inbox import WaitingApproval, for_user
from app.domain.identity import User
from app.executions.service import UnknownExecution
from app.settings import SettingsError
from app.temporal.contracts import Timeline

log = logging.getLogger("stepladder.live")

T = TypeVar("T")

TIMELINE_QUERIES = Counter(
    "stepladder_timeline_queries", "Temporal `timeline` queries made by the live-update hub"
)
TIMELINE_QUERY_ERRORS = Counter(
    "stepladder_timeline_query_errors", "Failed `timeline` queries (Temporal unreachable, ...)"
)
INBOX_POLLS = Counter("stepladder_inbox_polls", "Approvals-inbox reads made by the live-update hub")
LIVE_FEEDS = Gauge("stepladder_live_feeds", "Pollers running (watched executions + inbox)")
LIVE_SUBSCRIBERS = Gauge("stepladder_live_subscribers", "Open live-update (SSE) streams")

# Step statuses in which the workflow moves on by itself: poll fast to show it promptly.
ACTIVE_STEP_STATUSES = frozenset({"running", "preparing", "approved"})


@dataclass(frozen=True)
class LiveTuning:
    """Polling knobs, read from LIVE_* environment variables (seconds) when the app is built."""

    fast_interval: float = 0.25
    """LIVE_FAST_INTERVAL: poll interval right after a change while steps run by themselves."""
    slow_interval: float = 4.0
    """LIVE_SLOW_INTERVAL: poll interval while a step waits for approval; also the longest."""
    idle_ratio: float = 0.05
    """LIVE_IDLE_RATIO: with nothing changing, wait this fraction of the quiet time (≥ fast)."""
    burst_interval: float = 0.05
    """LIVE_BURST_INTERVAL: poll interval just after a nudge (a change made through this app)."""
    burst_window: float = 1.5
    """LIVE_BURST_WINDOW: how long a nudge keeps the burst interval."""
    linger: float = 5.0
    """LIVE_LINGER: keep polling this long after the last viewer leaves (page reloads)."""
    inbox_interval: float = 1.0
    """LIVE_INBOX_INTERVAL: how often the approvals inbox is read while someone watches it."""
    max_backoff: float = 15.0
    """LIVE_MAX_BACKOFF: longest wait between retries while Temporal or PostgreSQL is down."""
    query_timeout: float = 10.0
    """LIVE_QUERY_TIMEOUT: a query slower than this counts as failed."""
    ping: float = 15.0
    """LIVE_PING: keep-alive comment interval on idle streams (proxies close silent ones)."""
    query_budget: float = 40.0
    """LIVE_QUERY_BUDGET: most `timeline` queries per second from this process, over all watched
    executions (each query also costs the worker a query task); beyond it polls wait."""

    @classmethod
    def from_env(cls) -> LiveTuning:
        values: dict[str, float] = {}
        for spec in fields(cls):
            name = f"LIVE_{spec.name.upper()}"
            raw = os.environ.get(name, "").strip()
            if not raw:
                continue
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
            if value <= 0:
                raise SettingsError(f"{name} must be positive, got {raw!r}")
            values[spec.name] = value
        return cls(**values)


class _Mailbox(Generic[T]):
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
        self.mailboxes: set[_Mailbox[T]] = set()
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._clock = loop.time
        self.last_change = self._clock()
        self.burst_until = 0.0
        self._empty_since = self._clock()
        self.task: asyncio.Task[None] | None = None
        self.polls = 0

    # -- subscribers -----------------------------------------------------------------------
    def join(self) -> _Mailbox[T]:
        mailbox: _Mailbox[T] = _Mailbox()
        self.mailboxes.add(mailbox)
        return mailbox

    def leave(self, mailbox: _Mailbox[T]) -> None:
        self.mailboxes.discard(mailbox)
        if not self.mailboxes:
            self._empty_since = self._clock()

    def nudge(self) -> None:
        self.burst_until = self._clock() + self._tuning.burst_window
        self._wake.set()

    @property
    def done(self) -> bool:
        return self.task is not None and self.task.done()

    # -- the poller ------------------------------------------------------------------------
    async def run(self) -> None:
        LIVE_FEEDS.inc()
        failures = 0
        try:
            while not self._idle_long_enough():
                self.polls += 1
                # Cleared before the query, so a nudge during it still cuts the next wait short.
                self._wake.clear()
                try:
                    value = await asyncio.wait_for(self._fetch(), self._tuning.query_timeout)
                except Gone:
                    self._publish(None)
                    return
                except Exception as exc:  # Temporal or PostgreSQL down: keep viewers, retry
                    failures += 1
                    self._on_error()
                    delay = min(self._tuning.max_backoff, self._tuning.fast_interval * 2**failures)
                    if failures == 1 or failures % 10 == 0:
                        log.warning(
                            "%s: poll failed (%s, %d in a row); retrying in %.1fs",
                            self.label, _reason(exc), failures, delay,
                        )  # fmt: skip
                    await self.wait(delay)
                    continue
                if failures:
                    log.info("%s: polling again after %d failure(s)", self.label, failures)
                    failures = 0
                if self.latest is None or self._version(value) != self._version(self.latest):
                    self.latest = value
                    self.last_change = self._clock()
                    self._publish(value)
                if self._finished(value):
                    return
                await self.wait(self._next_delay(self, value))
        finally:
            LIVE_FEEDS.dec()

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


class Subscription(Generic[T]):
    """One viewer's stream of versions: `next()` waits for a version it has not seen."""

    def __init__(self, label: str, mailbox: _Mailbox[T], version: Callable[[T], Hashable]):
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


def _reason(exc: BaseException) -> str:
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


class TimelineReader:
    """Reads a timeline through the workflow's `timeline` query, as ExecutionService.timeline
    does, but turns the payload into dataclasses only when it changed: temporalio's generic
    converter costs this process ~5 ms of CPU for a 5-step timeline and ~30 ms for 40 steps,
    and most polls find nothing new."""

    KEEP = 1024

    def __init__(self, client: Client) -> None:
        self._client = client
        self._known: OrderedDict[str, tuple[bytes, Timeline]] = OrderedDict()
        self.conversions = 0

    async def __call__(self, execution_id: str) -> Timeline:
        handle = self._client.get_workflow_handle(execution_id)
        try:
            raw: RawValue = await handle.query("timeline", result_type=RawValue)
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                raise UnknownExecution(execution_id) from None
            raise
        except WorkflowQueryFailedError:
            raise UnknownExecution(execution_id) from None
        digest = hashlib.blake2b(raw.payload.data, digest_size=16).digest()
        known = self._known.get(execution_id)
        if known is not None and known[0] == digest:
            self._known.move_to_end(execution_id)
            return known[1]
        [timeline] = await self._client.data_converter.decode([raw.payload], [Timeline])
        self.conversions += 1
        self._known[execution_id] = (digest, timeline)
        while len(self._known) > self.KEEP:
            self._known.popitem(last=False)
        assert isinstance(timeline, Timeline)
        return timeline


# -- executions -----------------------------------------------------------------------------


def timeline_delay(tuning: LiveTuning) -> Callable[[Feed[Timeline], Timeline], float]:
    """Fast while steps run, slow while a step waits for a person, slower the longer it is quiet."""

    def delay(feed: Feed[Timeline], timeline: Timeline) -> float:
        if feed.bursting():
            return tuning.burst_interval
        statuses = {step.status for step in timeline.steps}
        if "waiting_approval" in statuses and not statuses & ACTIVE_STEP_STATUSES:
            return tuning.slow_interval
        return min(
            tuning.slow_interval, max(tuning.fast_interval, feed.quiet_for() * tuning.idle_ratio)
        )

    return delay


class TimelineHub:
    """Per web process: at most one Temporal-query poller per execution, shared by all viewers."""

    FINISHED_CACHE = 512

    def __init__(self, fetch: Callable[[str], Awaitable[Timeline]], tuning: LiveTuning) -> None:
        self._fetch = fetch
        self.tuning = tuning
        self._feeds: dict[str, Feed[Timeline]] = {}
        self._inflight: dict[str, asyncio.Task[Timeline]] = {}
        # A finished timeline never changes again: keep it instead of asking Temporal (which
        # replays the whole history on a worker to answer a query on a closed workflow).
        self._finished: OrderedDict[str, Timeline] = OrderedDict()
        self._budget = QueryBudget(tuning.query_budget)
        self.queries = 0
        self.query_errors = 0
        self.subscribers = 0

    async def _query(self, execution_id: str) -> Timeline:
        await self._budget.take()
        self.queries += 1
        TIMELINE_QUERIES.inc()
        try:
            timeline = await self._fetch(execution_id)
        except UnknownExecution:
            raise Gone(execution_id) from None
        if timeline.finished:
            self._finished[execution_id] = timeline
            while len(self._finished) > self.FINISHED_CACHE:
                self._finished.popitem(last=False)
        return timeline

    def _count_error(self) -> None:
        self.query_errors += 1
        TIMELINE_QUERY_ERRORS.inc()

    async def snapshot(self, execution_id: str) -> Timeline:
        """The current timeline: the watcher's latest if one runs, else one (shared) query.
        Raises `UnknownExecution`, or whatever the query raised when Temporal is down."""
        if execution_id in self._finished:
            return self._finished[execution_id]
        feed = self._feeds.get(execution_id)
        if feed is not None and feed.latest is not None and not feed.done:
            return feed.latest
        task = self._inflight.get(execution_id)
        if task is None:
            task = asyncio.create_task(self._query(execution_id))
            self._inflight[execution_id] = task
            task.add_done_callback(lambda done: self._forget_inflight(execution_id, done))
        try:
            return await asyncio.shield(task)
        except Gone:
            raise UnknownExecution(execution_id) from None

    def _forget_inflight(self, execution_id: str, task: asyncio.Task[Timeline]) -> None:
        if self._inflight.get(execution_id) is task:
            del self._inflight[execution_id]
        # Reading the exception marks it retrieved even when every waiter was cancelled.
        error = None if task.cancelled() else task.exception()
        if error is not None and not isinstance(error, Gone):
            self._count_error()

    def _feed(self, execution_id: str, seed: Timeline | None) -> Feed[Timeline]:
        feed = self._feeds.get(execution_id)
        if feed is None or feed.done:
            feed = Feed(
                f"execution {execution_id}",
                lambda: self._query(execution_id),
                version=_timeline_version,
                next_delay=timeline_delay(self.tuning),
                finished=lambda timeline: timeline.finished,
                tuning=self.tuning,
                on_error=self._count_error,
            )
            if seed is not None:
                feed.latest = seed
            feed.task = asyncio.create_task(self._run(execution_id, feed, seed))
            self._feeds[execution_id] = feed
        return feed

    async def _run(self, execution_id: str, feed: Feed[Timeline], seed: Timeline | None) -> None:
        try:
            if seed is not None:
                # Just queried for this viewer: the first poll can wait one interval.
                await feed.wait(timeline_delay(self.tuning)(feed, seed))
            await feed.run()
        except Exception:
            log.exception("watcher for execution %s stopped unexpectedly", execution_id)
        finally:
            if self._feeds.get(execution_id) is feed:
                del self._feeds[execution_id]

    @asynccontextmanager
    async def subscribe(
        self, execution_id: str, seen: Timeline | None = None
    ) -> AsyncIterator[Subscription[Timeline]]:
        """Versions of the execution's timeline newer than `seen`, until it finishes."""
        final = self._finished.get(execution_id)
        feed = None if final is not None else self._feed(execution_id, seen)
        mailbox: _Mailbox[Timeline] = feed.join() if feed is not None else _Mailbox()
        subscription = Subscription(f"execution {execution_id}", mailbox, _timeline_version)
        if seen is not None:
            subscription.mark_seen(seen)
        if final is not None:
            # Finished since `seen` was taken: hand over the final version, or say it is over.
            unseen = seen is None or _timeline_version(seen) != _timeline_version(final)
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

    def nudge(self, execution_id: str) -> None:
        """Something changed this execution (a decision, a start): query it now, then briefly
        poll fast. Cheap and safe to call for executions nobody watches."""
        feed = self._feeds.get(execution_id)
        if feed is not None:
            feed.nudge()

    @property
    def watched(self) -> int:
        return sum(1 for feed in self._feeds.values() if not feed.done)

    def watchers(self) -> dict[str, dict[str, int]]:
        """Per watched execution: its viewers here and the queries its watcher has made."""
        return {
            execution_id: {"subscribers": len(feed.mailboxes), "queries": feed.polls}
            for execution_id, feed in self._feeds.items()
            if not feed.done
        }

    async def close(self) -> None:
        tasks = [f.task for f in self._feeds.values() if f.task] + list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._feeds.clear()


def _timeline_version(timeline: Timeline) -> Hashable:
    return (timeline.version, timeline.status)


def _items_version(items: list[WaitingApproval]) -> Hashable:
    return tuple(items)


# -- approvals inbox ------------------------------------------------------------------------


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
        feed = self._feed
        if feed is not None and feed.latest is not None and not feed.done:
            return feed.latest
        return await self._poll()

    def _running_feed(self) -> Feed[list[WaitingApproval]]:
        if self._feed is None or self._feed.done:
            interval = self.tuning.inbox_interval
            feed: Feed[list[WaitingApproval]] = Feed(
                "approvals inbox",
                self._poll,
                version=_items_version,
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
            yield Subscription(feed.label, mailbox, _items_version)
        finally:
            self.subscribers -= 1
            LIVE_SUBSCRIBERS.dec()
            feed.leave(mailbox)

    def nudge(self) -> None:
        if self._feed is not None:
            self._feed.nudge()

    async def close(self) -> None:
        if self._feed is not None and self._feed.task is not None:
            self._feed.task.cancel()
            await asyncio.gather(self._feed.task, return_exceptions=True)


@dataclass
class LiveUpdates:
    """What the web process keeps for live pages; on app state as `live` (and injectable)."""

    timelines: TimelineHub
    inbox: ApprovalInbox

    def nudge(self, execution_id: str) -> None:
        """Call after this app changed an execution (start, decision): its viewers and every
        open inbox see it now instead of at the next poll."""
        self.timelines.nudge(execution_id)
        self.inbox.nudge()

    def stats(self) -> dict[str, Any]:
        return {
            "timeline_queries": self.timelines.queries,
            "timeline_query_errors": self.timelines.query_errors,
            "watched_executions": self.timelines.watched,
            "timeline_subscribers": self.timelines.subscribers,
            "inbox_polls": self.inbox.polls,
            "inbox_subscribers": self.inbox.subscribers,
            "executions": self.timelines.watchers(),
        }

    async def close(self) -> None:
        await asyncio.gather(self.timelines.close(), self.inbox.close())


# -- rendering and the SSE endpoints --------------------------------------------------------


def render_partial(
    request: Request[Any, Any, Any], template_name: str, context: dict[str, Any]
) -> str:
    """Render a template as Litestar's `Template` response would (request, CSRF input, the
    engine's globals), for SSE events that must match what the full page shows."""
    engine = request.app.template_engine
    if engine is None:  # pragma: no cover - create_app always configures one
        raise RuntimeError("no template engine configured")
    token = ScopeState.from_scope(request.scope).csrf_token
    csrf_token = token if isinstance(token, str) else ""
    csrf_input = f'<input type="hidden" name="_csrf_token" value="{html.escape(csrf_token)}" />'
    rendered: str = engine.get_template(template_name).render(
        **context, request=request, csrf_input=csrf_input
    )
    return rendered


def timeline_context(timeline: Timeline) -> dict[str, Any]:
    """The context `_timeline.html` is rendered with, for the page and for its SSE events."""
    return {"timeline": timeline}


# Browsers retry a dropped stream after this many milliseconds (server restart, network blip).
RECONNECT_MS = 1000


class LiveController(Controller):
    @get("/executions/{execution_id:str}/events")
    async def timeline_events(
        self,
        request: Request[User, Any, Any],
        execution_id: str,
        live: NamedDependency[LiveUpdates],
    ) -> EventSourceResponse:
        """The timeline as server-sent events: now, then each new version; ends with the run."""
        hub = live.timelines
        first: Timeline | None = None
        try:
            # Bounded: with no worker a query waits long; the stream then catches up later.
            first = await asyncio.wait_for(hub.snapshot(execution_id), hub.tuning.query_timeout)
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None
        except Exception as exc:  # Temporal down: open the stream anyway, it catches up later
            log.warning("execution %s: no timeline yet (%s)", execution_id, _reason(exc))

        def event(timeline: Timeline, published_at: float | None = None) -> ServerSentEvent:
            data = render_partial(request, "_timeline.html", timeline_context(timeline))
            # The comment (ignored by browsers) says when this process learned of the version,
            # so a benchmark can time the fan-out alone.
            comment = f"published {published_at:.3f}" if published_at else None
            return ServerSentEvent(
                data, event="timeline", id=str(timeline.version), retry=RECONNECT_MS,
                comment=comment,
            )  # fmt: skip

        async def stream() -> AsyncIterator[ServerSentEvent]:
            if first is not None:
                yield event(first)
                if first.finished:
                    yield ServerSentEvent("finished", event="end")
                    return
            try:
                async with hub.subscribe(execution_id, seen=first) as subscription:
                    while True:
                        timeline = await subscription.next()
                        yield event(timeline, subscription.published_at)
                        if timeline.finished:
                            break
            except Gone:
                pass
            yield ServerSentEvent("finished", event="end")

        return EventSourceResponse(stream(), ping=hub.tuning.ping, send_timeout=30)

    @get("/approvals/events")
    async def approval_events(
        self, request: Request[User, Any, Any], live: NamedDependency[LiveUpdates]
    ) -> EventSourceResponse:
        """The signed-in user's inbox as server-sent events, whenever it changes."""
        inbox = live.inbox
        user = request.user

        def render(items: list[WaitingApproval]) -> str:
            return render_partial(request, "_approval_items.html", {"items": for_user(items, user)})

        async def stream() -> AsyncIterator[ServerSentEvent]:
            sent = ""
            async with inbox.subscribe() as subscription:
                while True:
                    try:
                        items = await subscription.next()
                    except Gone:
                        return
                    data = render(items)
                    if data != sent:  # the shared list changed, maybe not this user's part
                        sent = data
                        yield ServerSentEvent(data, event="approvals", retry=RECONNECT_MS)

        return EventSourceResponse(stream(), ping=inbox.tuning.ping, send_timeout=30)

    @get("/live/stats")
    async def live_stats(self, live: NamedDependency[LiveUpdates]) -> dict[str, Any]:
        """Counters of this web process's live-update pollers (benchmarks read queries/s here)."""
        return live.stats()


def provide_live(state: State) -> LiveUpdates:
    live: LiveUpdates = state.live
    return live
