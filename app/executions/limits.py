"""Rate limits on starts: per user (form, API, run) and per workflow (its webhook), counted in
PostgreSQL so every web process shares one count (app/db/rate_limits.py)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from app.db import rate_limits
from app.domain.identity import User, canonical_user_id
from app.settings import RateLimit

# Starts by these are not limited: Temporal Schedules start on their own clock.
UNLIMITED_VIA = ("schedule",)


class StartRateLimited(RuntimeError):
    """A start refused because its key used up its window (HTTP 429). `retry_after_seconds`:
    whole seconds until the window frees (≥ 1); the message says the limit and the wait."""

    def __init__(self, limit: RateLimit, per: str, retry_after_seconds: int) -> None:
        starts = "start" if limit.count == 1 else "starts"
        super().__init__(
            f"{limit.count} {starts} per {limit.window_words} per {per};"
            f" try again in {retry_after_seconds} s"
        )
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds


class StartLimiter:
    """Fixed-window counters: `per_user` limits each user's starts, `per_webhook` each
    workflow's webhook starts; None means unlimited. `clock` answers unix seconds (tests)."""

    def __init__(
        self,
        per_user: RateLimit | None,
        per_webhook: RateLimit | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.per_user = per_user
        self.per_webhook = per_webhook
        self.clock = clock

    async def admit(self, workflow_id: str, user: User, via: str) -> None:
        """Count one start of `workflow_id` by `user` through `via`; raise StartRateLimited
        when it is over the limit (the refused start still counts in its window)."""
        if via in UNLIMITED_VIA:
            return
        if via == "webhook":
            await self._count(self.per_webhook, f"webhook:{workflow_id}", "workflow webhook")
        else:
            await self._count(self.per_user, f"user:{canonical_user_id(user.name)}", "user")

    async def _count(self, limit: RateLimit | None, key: str, per: str) -> None:
        if limit is None:
            return
        now = self.clock()
        window_start = int(now // limit.window_seconds) * limit.window_seconds
        hits = await rate_limits.count_hit(key, window_start, limit.window_seconds)
        if hits > limit.count:
            wait = max(1, math.ceil(window_start + limit.window_seconds - now))
            raise StartRateLimited(limit, per, wait)
