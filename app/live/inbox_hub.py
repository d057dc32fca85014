"""The inbox hub: one PostgreSQL reader of the waiting approvals per web process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager, suppress

from app.approvals.inbox import WaitingApproval
from app.domain.decided_mask import DecidedMask
from app.live.feeds import Feed, FeedStopped, Subscription
from app.live.metrics import INBOX_POLLS, LIVE_SUBSCRIBERS
from app.live.tuning import LiveTuning

log = logging.getLogger("stepladder.live")


def items_version(items: list[WaitingApproval]) -> Hashable:
    return tuple(items)


class ApprovalInbox:
    """Per web process: one PostgreSQL reader of the steps waiting for approval, while anyone
    watches an inbox; each viewer filters the shared list for its own user. It reads when told
    of a change (`changed`: the records' NOTIFY, `nudge`: this app's own starts and decisions)
    and every `safety_interval` while `listening`, else every `inbox_interval`. A step announced
    decided (`decided`: by any web process, through NOTIFY, or by this one) leaves the list at
    once, before its records say so: see DecidedMask (`decided_ttl`)."""

    def __init__(
        self, load: Callable[[], Awaitable[list[WaitingApproval]]], tuning: LiveTuning
    ) -> None:
        self._load = load
        self.tuning = tuning
        self._feed: Feed[list[WaitingApproval]] | None = None
        self.listening = False
        """True while PostgreSQL's notifications are received (app/db/inbox_channel.py)."""
        self.notifications = 0
        self.decided_notices = 0
        self.polls = 0
        self.subscribers = 0
        self._clock = asyncio.get_running_loop().time
        self.mask = DecidedMask(tuning.decided_ttl, self._clock)
        self._expiry: asyncio.TimerHandle | None = None

    async def _poll(self) -> list[WaitingApproval]:
        self.polls += 1
        INBOX_POLLS.inc()
        started = self._clock()
        return self.mask.read(await self._load(), started)

    async def snapshot(self) -> list[WaitingApproval]:
        """A list read now: the feed's next read, shared with every open inbox (which then shows
        it too), else one read. Pages read fresh: a change no notification announced (a restored
        or truncated table, a notification lost while reconnecting) shows at the next page load."""
        feed = self._feed
        if feed is not None and not feed.done:
            feed.refresh()
            with suppress(FeedStopped):
                return await feed.answer()
        return await self._poll()

    def _running_feed(self) -> Feed[list[WaitingApproval]]:
        if self._feed is None or self._feed.done:
            feed: Feed[list[WaitingApproval]] = Feed(
                "approvals inbox",
                self._poll,
                version=items_version,
                next_delay=lambda f, _: self._next_delay(f),
                tuning=self.tuning,
            )
            feed.pushed = self.listening
            feed.task = asyncio.create_task(self._run(feed))
            self._feed = feed
        return self._feed

    def _next_delay(self, feed: Feed[list[WaitingApproval]]) -> float:
        if feed.pushed:
            return self.tuning.safety_interval
        return self.tuning.burst_interval if feed.bursting() else self.tuning.inbox_interval

    def changed(self, execution_id: str = "") -> None:
        """A notification: the waiting steps of `execution_id` changed (any web process's doing)."""
        self.notifications += 1
        if self._feed is not None:
            self._feed.poke()

    def decided(self, execution_id: str, step_id: str) -> None:
        """A step's decision was accepted (announced by any web process): every open inbox drops
        it now, from the list it shows — no read — and the records' notification re-reads later.
        If the records still list it after `decided_ttl`, it shows again (read at that moment)."""
        if not self.mask.hides(execution_id, step_id):  # the deciding process hears itself too
            self.decided_notices += 1
        self.mask.hide(execution_id, step_id)
        self._expire_later()
        feed = self._feed
        if feed is None or feed.done or feed.latest is None:
            return
        shown = self.mask.visible(feed.latest)
        if len(shown) != len(feed.latest):
            # What a read would now answer: published as the feed publishes a new version.
            feed.latest = shown
            for mailbox in feed.mailboxes:
                mailbox.put(shown)

    def _expire_later(self) -> None:
        """Read again when the soonest mask entry expires (one timer for the whole mask)."""
        expiry = self.mask.next_expiry()
        if expiry is None or (self._expiry is not None and self._expiry.when() <= expiry):
            return
        if self._expiry is not None:
            self._expiry.cancel()
        self._expiry = asyncio.get_running_loop().call_at(expiry, self._expired)

    def _expired(self) -> None:
        self._expiry = None
        if self.mask.take_lapsed() and self._feed is not None:
            self._feed.poke()  # the records may still list it: show what they say now
        self._expire_later()

    def set_listening(self, listening: bool) -> None:
        """Notifications start (read at once: one may have been missed) or stop (poll again)."""
        self.listening = listening
        if self._feed is not None:
            self._feed.pushed = listening
            self._feed.poke()

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
            mailbox.put(self.mask.visible(feed.latest))
            feed.refresh()  # what it knew may be old: a newer list follows if it differs
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
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self._feed is not None and self._feed.task is not None:
            self._feed.task.cancel()
            await asyncio.gather(self._feed.task, return_exceptions=True)
